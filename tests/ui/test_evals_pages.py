"""The Evals and Compare pages in AppTest, on real runs of the baseline and of a faked llama-server.

The ``world`` fixture gives the pages real Services (SQLite store, prompt registry) whose HTTP client
talks to an in-process fake of llama-server; the golden set is the evals tests' small one.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.config import get_settings
from app.errors import StoreError
from app.evals.runner import BASELINE_MODEL_NAME, EvalRequest, RunHeader, parse_slice
from app.golden.jsonl import write_jsonl
from app.ui import cache
from app.ui import evals as ui
from tests.evals.conftest import small_golden_set
from tests.ui.fakes import MODEL_NAME, FakeWorld, assert_no_exception, error_texts, metric, page

HOSTILE_SUMMARY = "**bold** <script>alert(1)</script> [click](https://evil.example) :red[x]"


@pytest.fixture
def golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "golden"
    write_jsonl(directory / "small.jsonl", small_golden_set())
    monkeypatch.setenv("GOLDEN_DIR", str(directory))
    get_settings.cache_clear()
    return directory


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


def test_evals_page_without_runs(world: FakeWorld, golden: Path) -> None:
    at = page("evals").run()
    assert_no_exception(at)
    assert any("No runs yet" in info.value for info in at.info)
    assert at.selectbox(key="evals.model").options == [BASELINE_MODEL_NAME, MODEL_NAME]
    assert at.selectbox(key="evals.prompt").value.startswith("rca-evidence-first@")


def test_start_a_baseline_run_from_the_page_and_open_it(world: FakeWorld, golden: Path) -> None:
    at = page("evals").run()
    at.selectbox(key="evals.model").set_value(BASELINE_MODEL_NAME)
    at.multiselect(key="evals.classes").set_value(["oom_killed", "healthy"])
    at.button(key="evals.start").click().run()
    assert_no_exception(at)
    live = at.session_state[ui.STATE_KEY]
    deadline = time.monotonic() + 30
    while live.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live.active
    at.run()
    assert_no_exception(at)
    assert any("completed" in s.value for s in at.success)
    assert live.header.summary.items == 4
    assert (live.done, live.total) == (4, 4)
    # The new run is listed; clicking it opens it.
    select_rows(at, "evals.runs", [0])
    at.run()
    assert_no_exception(at)
    assert metric(at, "Accuracy") == "100.0%"
    assert metric(at, "Items") == "4"
    per_class = frame_with(at, "recall %")
    assert list(per_class["class"]) == ["oom_killed", "healthy"]
    assert any(text.value == live.header.label for text in at.text)


def test_a_run_shows_failing_items_with_logs_and_output_as_text(world: FakeWorld, golden: Path) -> None:
    world.answer = (
        '{"root_cause": "dependency_unavailable", "confidence": 0.8, "evidence": [2], '
        f'"summary": "{HOSTILE_SUMMARY}"}}'
    )
    header = run_eval(EvalRequest(prompt="rca-evidence-first", model=MODEL_NAME, slice=parse_slice(limit=4)))
    at = page("evals").run()
    select_rows(at, "evals.runs", [0])
    at.run()
    assert_no_exception(at)
    assert metric(at, "Accuracy") == "0.0%"
    assert header.fingerprint.server_build == "b6000-test"
    failing = at.dataframe(key="evals.failing").value
    assert len(failing) == 4
    select_rows(at, "evals.failing", [0])
    at.run()
    assert_no_exception(at)
    logs = frame_with(at, "evidence")
    assert "request id 0" in list(logs["line"])
    assert any(HOSTILE_SUMMARY in code.value for code in at.code)  # the raw output, verbatim
    assert "evil.example" not in markdown_texts(at)
    assert "<script>" not in markdown_texts(at)


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
    live = at.session_state[ui.STATE_KEY]
    deadline = time.monotonic() + 30
    while live.active and time.monotonic() < deadline:
        time.sleep(0.1)
    at.run()
    assert_no_exception(at)
    assert any("not ready" in text for text in error_texts(at))
    select_rows(at, "evals.runs", [0])
    at.run()
    assert list(at.dataframe(key="evals.runs").value["status"].iloc[0]) == ["failed"]


def test_compare_page_needs_two_runs(world: FakeWorld, golden: Path) -> None:
    at = page("compare").run()
    assert_no_exception(at)
    assert any("at least two runs" in info.value for info in at.info)


def test_compare_two_runs(world: FakeWorld, golden: Path) -> None:
    baseline = run_eval(EvalRequest(model=BASELINE_MODEL_NAME))
    model = run_eval(EvalRequest(prompt="rca-zero-shot", model=MODEL_NAME, slice=parse_slice(limit=20)))
    at = page("compare").run()
    at.multiselect(key="compare.runs").set_value([baseline.id, model.id]).run()
    assert_no_exception(at)
    # Markdown escapes aside, the verdict reads plainly.
    assert any("A is better on macro-F1" in s.value.replace("\\", "") for s in at.success)
    assert any("only on the 20 items" in text.value for text in at.text)  # the shared-items note
    headline = frame_with(at, "A: " + baseline.id[:8])
    assert headline.loc["accuracy % [95% CI]"].iloc[0].startswith("100.0 [100.0, 100.0]")
    pairs = frame_with(at, "verdict")
    assert pairs["A right, B wrong"].iloc[0] == 18  # the fake answers dependency_unavailable: right twice
    # The per-example table, filtered, opens an example with both outputs.
    at.segmented_control(key="compare.category").set_value("A right, B wrong").run()
    examples = at.dataframe(key="compare.examples").value
    assert len(examples) == 18
    assert set(examples["b_predicted"]) == {"dependency_unavailable"}
    select_rows(at, "compare.examples", [0])
    at.run()
    assert_no_exception(at)
    assert len([c for c in at.code if "root_cause" in c.value]) == 2
    at.segmented_control(key="compare.category").set_value("both right").run()
    assert set(at.dataframe(key="compare.examples").value["example_id"]) == {
        "dependency_unavailable-0",
        "dependency_unavailable-1",
    }
