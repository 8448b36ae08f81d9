"""The Evals and Compare pages in AppTest, on real runs of the baseline and of a faked llama-server.

The ``world`` fixture gives the pages real Services (SQLite store, prompt registry) whose HTTP client
talks to an in-process fake of llama-server; the golden set is the evals tests' small one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.config import get_settings
from app.errors import StoreError
from app.evals.runner import BASELINE_MODEL_NAME, EvalRequest, GoldenSlice, RunHeader, load_items, parse_slice
from app.evals.scoring import example_scenario
from app.golden.jsonl import write_jsonl
from app.ui import cache
from app.ui import evals as ui
from tests.evals.conftest import small_golden_set
from tests.ui.fakes import MODEL_NAME, ROOT, FakeWorld, assert_no_exception, error_texts, metric

HOSTILE_SUMMARY = "**bold** <script>alert(1)</script> [click](https://evil.example) :red[x]"


@pytest.fixture
def golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "golden"
    write_jsonl(directory / "small.jsonl", small_golden_set())
    monkeypatch.setenv("GOLDEN_DIR", str(directory))
    get_settings.cache_clear()
    return directory


def scenarios_of(ids: list[str]) -> str:
    """How many independent scenarios these examples of the small set come from, as the pages print it."""
    examples = {example.id: example for example in small_golden_set()}
    return f"{len({example_scenario(examples[i]) or i for i in ids}):,}"


def page(name: str) -> AppTest:
    """A page run through the router, as the dashboard runs it (its links resolve to the other pages)."""
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30).switch_page(
        f"app_pages/{name}.py"
    )


def triage_link(at: AppTest) -> str:
    """The URL of the page's one link to Triage."""
    (link,) = at.get("link_button")
    assert link.proto.label == "Open this window in Triage"
    return link.proto.url


def run_eval(request: EvalRequest) -> RunHeader:
    """A finished run on the services the pages use."""
    return cache.get_services().eval_runner.run(request)


def select_rows(at: AppTest, key: str, rows: list[int]) -> None:
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}


def frame_with(at: AppTest, column: str):
    """The first table on the page with this column (tables without selection have no key in AppTest)."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no table with column {column!r}")


def markdown_texts(at: AppTest) -> str:
    return "\n".join(
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [e.value for e in at.error]
        + [e.value for e in at.warning]
        + [e.value for e in at.info]
        + [e.value for e in at.success]
    )


def plain(text: str) -> str:
    """Markdown escapes removed, as a reader sees the text."""
    return text.replace("\\", "")


def wait_for(at: AppTest) -> None:
    live = at.session_state[ui.STATE_KEY]
    deadline = time.monotonic() + 30
    while live.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live.active


# --- Evals ----------------------------------------------------------------------------------------------------


def test_evals_page_without_runs(world: FakeWorld, golden: Path) -> None:
    at = page("evals").run()
    assert_no_exception(at)
    assert any("No runs yet" in info.value for info in at.info)
    assert at.selectbox(key="evals.model").options == [BASELINE_MODEL_NAME, MODEL_NAME]
    prompt = at.selectbox(key="evals.prompt").value
    assert prompt is not None
    assert prompt.startswith("rca-evidence-first@")


def test_start_a_baseline_run_from_the_page_and_open_it(world: FakeWorld, golden: Path) -> None:
    at = page("evals").run()
    at.selectbox(key="evals.model").set_value(BASELINE_MODEL_NAME)
    at.multiselect(key="evals.classes").set_value(["oom_killed", "healthy"])
    at.button(key="evals.start").click().run()
    assert_no_exception(at)
    live = at.session_state[ui.STATE_KEY]
    wait_for(at)
    at.run()
    assert_no_exception(at)
    assert any("completed" in s.value for s in at.success)
    assert live.header.summary.items == 4
    assert (live.done, live.total) == (4, 4)
    # The new run is listed, headline metrics on the left; clicking it opens it.
    runs = at.dataframe(key="evals.runs").value
    assert list(runs.columns[:6]) == ["run", "status", "model", "prompt", "accuracy %", "macro-F1 %"]
    assert runs["p50"].iloc[0].endswith(" ms")
    select_rows(at, "evals.runs", [0])
    at.run()
    assert_no_exception(at)
    assert metric(at, "Accuracy") == "100.0%"
    assert metric(at, "Items") == "4"
    assert metric(at, "Scenarios") == scenarios_of(live.header.item_ids)
    per_class = frame_with(at, "recall %")
    assert list(per_class["class"]) == ["oom_killed", "healthy"]
    assert any(text.value == live.header.label for text in at.text)


def test_a_running_run_is_listed_with_its_progress_not_no_runs_yet(world: FakeWorld, golden: Path) -> None:
    # Started elsewhere (say the CLI) and not finished: recorded, status running, no results yet.
    header = cache.get_services().eval_runner.start(EvalRequest(model=BASELINE_MODEL_NAME))
    at = page("evals").run()
    assert_no_exception(at)
    assert not any("No runs yet" in info.value for info in at.info)
    runs = at.dataframe(key="evals.runs").value
    assert list(runs["status"].iloc[0]) == ["running"]
    (progress,) = at.get("progress")
    assert f"run {header.id[:8]}" in plain(progress.proto.text)
    assert "0 results of 26 items" in plain(progress.proto.text)


def test_a_run_shows_failing_items_with_the_models_evidence_numbers(world: FakeWorld, golden: Path) -> None:
    world.answer = (
        '{"root_cause": "dependency_unavailable", "confidence": 0.8, "evidence": [2, 3], '
        f'"summary": "{HOSTILE_SUMMARY}"}}'
    )
    header = run_eval(EvalRequest(prompt="rca-evidence-first", model=MODEL_NAME, slice=parse_slice(limit=4)))
    stored = {item.example_id: item for item in load_items(cache.get_services().engine, header.id)}
    at = page("evals").run()
    select_rows(at, "evals.runs", [0])
    at.run()
    assert_no_exception(at)
    assert metric(at, "Accuracy") == "0.0%"
    assert header.fingerprint.server_build == "b6000-test"
    failing = at.dataframe(key="evals.failing").value
    assert len(failing) == 4
    assert all(value.endswith(("ms", " s")) for value in failing["time"])
    select_rows(at, "evals.failing", [0])
    at.run()
    assert_no_exception(at)
    item = stored[failing["example"].iloc[0]]
    # The model's own numbers, not the entry indices behind them.
    assert any(text.value == f"{MODEL_NAME} cited lines 2, 3" for text in at.text)
    logs = frame_with(at, "labeled")
    cited = logs[logs[f"cited by {MODEL_NAME}"] == "★"]
    assert list(cited["#"]) == item.cited_evidence
    assert item.cited_evidence  # the model's lines 2 and 3 are entries of the window
    assert any(HOSTILE_SUMMARY in code.value for code in at.code)  # the raw output, verbatim
    assert "evil.example" not in markdown_texts(at)
    assert "<script>" not in markdown_texts(at)
    assert triage_link(at) == f"/?example={item.example_id}"  # Triage is the app's root


def test_answers_copying_a_worked_example_are_counted_and_listed(world: FakeWorld, golden: Path) -> None:
    # Right class, but the few-shot prompt's first worked example's story: app-a is in no window.
    world.answer = json.dumps(
        {
            "root_cause": "oom_killed",
            "confidence": 0.9,
            "evidence": [2],
            "summary": "app-a reached its memory limit and was killed; the restarts follow from it.",
        }
    )
    run_eval(
        EvalRequest(
            prompt="rca-evidence-first", model=MODEL_NAME, slice=parse_slice("ids=oom_killed-0,healthy-0")
        )
    )
    at = page("evals").run()
    select_rows(at, "evals.runs", [0])
    at.run()
    assert_no_exception(at)
    assert metric(at, "Accuracy") == "50.0%"
    assert metric(at, "Copies example") == "100.0%"
    listed = at.dataframe(key="evals.failing").value
    # The correct answer is listed too: it copies the example.
    assert sorted(listed["example"]) == ["healthy-0", "oom_killed-0"]
    assert all("app-a" in copied for copied in listed["copies example"])
    assert any("answers copying a worked example (2)" in caption.value for caption in at.caption)
    select_rows(at, "evals.failing", [listed["example"].tolist().index("oom_killed-0")])
    at.run()
    assert_no_exception(at)
    (copied,) = [t.value for t in at.text if t.value.startswith("copies from the prompt's worked examples")]
    assert "app-a" in copied


def test_the_baseline_has_no_copies_to_count(world: FakeWorld, golden: Path) -> None:
    run_eval(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=2)))
    at = page("evals").run()
    select_rows(at, "evals.runs", [0])
    at.run()
    assert_no_exception(at)
    assert metric(at, "Copies example") == "—"


def test_the_log_view_focuses_on_the_evidence_and_shows_all_lines_on_request(
    world: FakeWorld, golden: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long window: 60 lines, the evidence in the middle.
    (example,) = [e for e in small_golden_set() if e.id == "oom_killed-0"]
    lines = [f"GET /health 200 {i}" for i in range(60)]
    lines[30], lines[31] = "Memory cgroup out of memory: Killed process 4242 (java)", "OOMKilled"
    data = json.loads(example.model_dump_json(exclude_none=True))
    data["logs"] = [
        {**data["logs"][0], "ts": f"2026-11-26T10:01:{i:02d}Z", "line": line} for i, line in enumerate(lines)
    ]
    data["label"]["evidence"] = [30, 31]
    (golden / "small.jsonl").unlink()
    (golden / "long.jsonl").write_text(json.dumps(data) + "\n", encoding="utf-8")
    get_settings.cache_clear()
    run_eval(EvalRequest(model=BASELINE_MODEL_NAME))
    # No citation: a cited line could stand for every collapsed health check, which is all 60.
    world.answer = '{"root_cause": "healthy", "confidence": 0.8, "evidence": [], "summary": "fine"}'
    run_eval(EvalRequest(prompt="rca-zero-shot", model=MODEL_NAME))
    at = page("evals").run()
    select_rows(at, "evals.runs", [0])
    at.run()
    select_rows(at, "evals.failing", [0])
    at.run()
    assert_no_exception(at)
    logs = frame_with(at, "labeled")
    # The labeled lines 30-31 with 3 lines around them, not all 60.
    assert list(logs["#"]) == list(range(27, 35))
    assert list(logs["labeled"]) == [False] * 3 + [True] * 2 + [False] * 3
    at.segmented_control(key="evals.example.view").set_value("All lines").run()
    assert len(frame_with(at, "labeled")) == 60


def test_a_failed_store_is_an_error_box_not_a_traceback(
    world: FakeWorld, golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(limit: int = 200) -> list[RunHeader]:
        raise StoreError("database error: OperationalError: disk I/O error")

    monkeypatch.setattr(ui, "eval_runs", broken)
    at = page("evals").run()
    assert_no_exception(at)
    assert any("disk I/O error" in text for text in error_texts(at))
    at = page("compare").run()
    assert_no_exception(at)
    assert any("disk I/O error" in text for text in error_texts(at))


def test_a_run_on_a_dead_server_fails_on_the_page(world: FakeWorld, golden: Path) -> None:
    world.model = "down"
    at = page("evals").run()
    at.selectbox(key="evals.model").set_value(MODEL_NAME)
    at.number_input(key="evals.limit").set_value(2)
    at.button(key="evals.start").click().run()
    wait_for(at)
    at.run()
    assert_no_exception(at)
    assert any("not ready" in text for text in error_texts(at))
    select_rows(at, "evals.runs", [0])
    at.run()
    assert list(at.dataframe(key="evals.runs").value["status"].iloc[0]) == ["failed"]


def test_the_form_asks_for_n_per_class_with_a_seed(
    world: FakeWorld, golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class StratifiedSlice(GoldenSlice):
        per_class: int | None = None
        seed: int | None = None

    asked: list[dict[str, object]] = []

    def parse(spec: str | None = None, **fields: object) -> GoldenSlice:
        asked.append(fields)
        return GoldenSlice()

    started: list[EvalRequest] = []
    monkeypatch.setattr(ui, "GoldenSlice", StratifiedSlice)
    monkeypatch.setattr(ui, "parse_slice", parse)
    monkeypatch.setattr(ui, "start_eval", started.append)
    at = page("evals").run()
    at.number_input(key="evals.per_class").set_value(3)
    at.number_input(key="evals.seed").set_value(7)
    at.button(key="evals.start").click().run()
    assert_no_exception(at)
    (fields,) = asked
    assert (fields["per_class"], fields["seed"]) == (3, 7)
    assert started[0].model == BASELINE_MODEL_NAME


def test_classes_without_predictions_or_examples_show_a_dash(world: FakeWorld, golden: Path) -> None:
    run_eval(EvalRequest(prompt="rca-zero-shot", model=MODEL_NAME, slice=parse_slice(limit=4)))
    at = page("evals").run()
    select_rows(at, "evals.runs", [0])
    at.run()
    rows = frame_with(at, "recall %").set_index("class")
    # The first 4 ids are application_exception and crash_config_error; the fake says dependency_unavailable.
    assert rows.loc["application_exception", "precision %"] == "—"  # never predicted: 0/0
    assert rows.loc["application_exception", "recall %"] == "0.0"
    assert rows.loc["dependency_unavailable", "recall %"] == "—"  # no examples: 0/0
    assert rows.loc["dependency_unavailable", "precision %"] == "0.0"  # predicted 4 times, never right


# --- Compare ------------------------------------------------------------------------------------------------


def test_compare_page_needs_two_runs(world: FakeWorld, golden: Path) -> None:
    at = page("compare").run()
    assert_no_exception(at)
    assert any("at least two runs" in info.value for info in at.info)


def test_a_regression_is_red_and_each_claim_names_its_metric(world: FakeWorld, golden: Path) -> None:
    baseline = run_eval(EvalRequest(model=BASELINE_MODEL_NAME))
    model = run_eval(EvalRequest(prompt="rca-zero-shot", model=MODEL_NAME, slice=parse_slice(limit=20)))
    at = page("compare").run()
    at.multiselect(key="compare.runs").set_value([baseline.id, model.id]).run()
    assert_no_exception(at)
    assert not at.success  # a regression is never shown as good news
    errors = [plain(e.value) for e in at.error]
    assert any(
        text.startswith("B vs A: B is worse than A on accuracy by 90.0 points (McNemar") for text in errors
    )
    assert any(text.startswith("B vs A: B is worse than A on macro-F1 by") for text in errors)
    assert any("paired permutation test" in text for text in errors)
    assert any("only on the 20 items" in text.value for text in at.text)  # the shared-items note
    scenarios = scenarios_of(model.item_ids)
    assert any(
        f"20 shared items from {scenarios} independent scenarios" in plain(c.value) for c in at.caption
    )
    headline = frame_with(at, "A: " + baseline.id[:8])
    assert headline.loc["accuracy % [95% CI]"].iloc[0].startswith("100.0 [100.0, 100.0]")
    assert headline.loc["scenarios"].iloc[0] == scenarios
    claims = frame_with(at, "metric")
    assert list(claims["metric"]) == ["accuracy", "macro-F1"]
    assert list(claims["result"]) == ["B worse", "B worse"]
    assert frame_with(at, "A right, B wrong")["A right, B wrong"].iloc[0] == 18  # the fake is right twice
    # The per-example table, filtered, opens an example with both outputs.
    at.segmented_control(key="compare.category").set_value("A right, B wrong").run()
    examples = at.dataframe(key="compare.examples").value
    assert len(examples) == 18
    assert set(examples["b_predicted"]) == {"dependency_unavailable"}
    select_rows(at, "compare.examples", [0])
    at.run()
    assert_no_exception(at)
    assert len([c for c in at.code if "root_cause" in c.value]) == 2
    assert any(text.value == "B cited lines 2, 1" for text in at.text)  # GOOD_ANSWER's evidence
    assert triage_link(at) == f"/?example={examples['example_id'].iloc[0]}"
    at.segmented_control(key="compare.category").set_value("both right").run()
    assert set(at.dataframe(key="compare.examples").value["example_id"]) == {
        "dependency_unavailable-0",
        "dependency_unavailable-1",
    }


def test_an_improvement_is_green_and_no_difference_is_neutral(world: FakeWorld, golden: Path) -> None:
    baseline = run_eval(EvalRequest(model=BASELINE_MODEL_NAME))
    again = run_eval(EvalRequest(model=BASELINE_MODEL_NAME, use_cache=False))
    model = run_eval(EvalRequest(prompt="rca-zero-shot", model=MODEL_NAME))
    at = page("compare").run()
    at.multiselect(key="compare.runs").set_value([model.id, baseline.id]).run()
    assert_no_exception(at)
    assert not at.error
    assert [plain(s.value).split(" by ")[0] for s in at.success] == [
        "B vs A: B is better than A on accuracy",
        "B vs A: B is better than A on macro-F1",
    ]
    at = page("compare").run()
    at.multiselect(key="compare.runs").set_value([baseline.id, again.id]).run()
    assert not at.error
    assert not at.success
    assert [plain(i.value).split(":")[1].strip() for i in at.info] == [
        "no significant difference between B and A on accuracy",
        "no significant difference between B and A on macro-F1",
    ]


def test_three_runs_are_holm_adjusted_and_the_page_says_so(world: FakeWorld, golden: Path) -> None:
    baseline = run_eval(EvalRequest(model=BASELINE_MODEL_NAME))
    model = run_eval(EvalRequest(prompt="rca-zero-shot", model=MODEL_NAME))
    again = run_eval(EvalRequest(model=BASELINE_MODEL_NAME, use_cache=False))
    at = page("compare").run()
    at.multiselect(key="compare.runs").set_value([baseline.id, model.id, again.id]).run()
    assert_no_exception(at)
    assert any("Holm-adjusted over the 2 comparisons against A" in plain(c.value) for c in at.caption)
    claims = frame_with(at, "Holm p")
    assert list(claims["pair"]) == ["B vs A", "B vs A", "C vs A", "C vs A"]
    assert all("Holm-adjusted over 2 comparisons" in plain(e.value) for e in at.error)
