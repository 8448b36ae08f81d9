"""Eval runs end to end: the baseline, a fake and the real model server, outcomes kept apart, the cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.errors import InputError, LLMConnectError
from app.evals.runner import (
    BASELINE_MODEL_NAME,
    EvalRequest,
    EvalRunner,
    GoldenSlice,
    get_run,
    git_revision,
    list_runs,
    load_items,
    parse_slice,
)
from app.golden.jsonl import dataset_version, load_golden_dir
from app.golden.schema import GoldenExample
from app.llm.server import LocalModelServer
from app.logs.compress import evidence_to_entries, fit_to_budget
from app.logs.models import LogEntry
from app.store.db import session_scope
from app.store.tables import EvalCacheRow
from tests.evals.conftest import make_example, rca_json, small_golden_set
from tests.fixtures.llama import SMOLLM2_MODEL, FakeOpenAIServer, free_port

PROMPT = "rca-evidence-first"
Runner = Callable[[], EvalRunner]


@pytest.fixture
def fake_model(
    fake_openai_server: FakeOpenAIServer, use_models_file: Callable[..., Path], golden_dir: Path
) -> FakeOpenAIServer:
    """The fake server answering every example with oom_killed citing line 1, set as model fake-q4."""
    fake_openai_server.script.tokens = [rca_json("oom_killed", [1])]
    use_models_file(fake_openai_server.base_url)
    return fake_openai_server


# --- slices ---------------------------------------------------------------------------------------------


def test_slices_pick_examples_by_class_source_ids_and_count() -> None:
    examples = small_golden_set()
    assert [e.id for e in parse_slice("class=oom_killed,healthy").apply(examples)] == [
        "healthy-0",
        "healthy-1",
        "oom_killed-0",
        "oom_killed-1",
    ]
    assert {e.source for e in parse_slice(source="labeled").apply(examples)} == {"labeled"}
    assert len(parse_slice(source="labeled").apply(examples)) == 13
    assert [e.id for e in parse_slice("ids=oom_killed-1, healthy-0").apply(examples)] == [
        "healthy-0",
        "oom_killed-1",
    ]
    assert len(parse_slice(limit=5).apply(examples)) == 5
    combined = parse_slice("class=oom_killed;source=synthetic")
    assert [e.id for e in combined.apply(examples)] == ["oom_killed-0"]
    assert GoldenSlice().as_dict() == {}
    assert combined.as_dict() == {"classes": ["oom_killed"], "source": "synthetic"}


def test_per_class_slices_are_stratified_and_reproducible() -> None:
    examples = small_golden_set(copies=5)
    one_each = parse_slice(per_class=1, seed=7).apply(examples)
    assert len(one_each) == 13
    assert len({e.label.root_cause for e in one_each}) == 13  # "first 13" would be 5 + 5 + 3 classes
    assert [e.id for e in parse_slice("per_class=1;seed=7").apply(examples)] == [e.id for e in one_each]
    two_each = parse_slice(per_class=2, seed=7).apply(examples)
    assert all(
        sum(e.label.root_cause == c for e in two_each) == 2 for c in {e.label.root_cause for e in examples}
    )
    # The seed decides the draw; a new example elsewhere does not reshuffle a class.
    seeds = {tuple(e.id for e in parse_slice(per_class=1, seed=seed).apply(examples)) for seed in range(6)}
    assert len(seeds) > 1
    extra = make_example("healthy-9", "healthy", ["GET / 200"], [])
    with_extra = parse_slice(per_class=1, seed=7).apply([*examples, extra])
    assert [e.id for e in with_extra if e.label.root_cause != "healthy"] == [
        e.id for e in one_each if e.label.root_cause != "healthy"
    ]
    assert parse_slice(per_class=1).as_dict() == {"per_class": 1, "seed": 0}
    # Other filters first, then the draw.
    assert {e.source for e in parse_slice("source=labeled;per_class=1").apply(examples)} == {"labeled"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("class=oom", "unknown class"),
        ("color=red", "bad slice"),
        ("limit=0", "limit"),
        ("source=web", "source"),
        ("per_class=0", "per_class"),
        ("seed=3", "per-class draw"),
    ],
)
def test_bad_slices_are_input_errors(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_slice(spec)


def test_unknown_ids_are_named() -> None:
    with pytest.raises(InputError, match="no-such-example"):
        parse_slice(ids=["no-such-example"]).apply(small_golden_set())


# --- the baseline -----------------------------------------------------------------------------------------


def test_baseline_runs_without_any_server(golden_dir: Path, make_runner: Runner) -> None:
    progress: list[tuple[int, int]] = []
    header = make_runner().run(
        EvalRequest(model=BASELINE_MODEL_NAME), on_progress=lambda done, total: progress.append((done, total))
    )
    assert header.status == "completed"
    assert header.succeeded
    assert (header.model, header.quantization, header.base_url) == (BASELINE_MODEL_NAME, "none", "")
    assert header.prompt_ref.startswith(f"{BASELINE_MODEL_NAME}@")
    assert progress[0] == (0, 26)
    assert progress[-1] == (26, 26)
    assert header.summary is not None
    assert header.summary.accuracy == 1.0
    assert header.summary.evidence_recall == 1.0
    items = load_items(make_runner().engine, header.id)
    assert len(items) == 26
    # No inference: latency is the analyzer's compute time, and there are no tokens.
    assert all(i.total_ms is not None and i.total_ms >= 0 and i.completion_tokens is None for i in items)
    assert all(not i.cached and i.trace_id for i in items)
    oom = next(i for i in items if i.example_id == "oom_killed-0")
    assert oom.cited_evidence == [1, 2]
    assert oom.parsed is not None
    assert oom.parsed["root_cause"] == "oom_killed"


# --- a model ----------------------------------------------------------------------------------------------


def test_model_run_records_items_and_fingerprint(fake_model: FakeOpenAIServer, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4"))
    assert header.status == "completed"
    assert header.summary is not None
    assert header.summary.items == 26
    assert header.summary.outcomes["correct"] == 2  # the two oom_killed examples
    assert header.summary.outcomes["wrong"] == 24
    # The run header says exactly what ran.
    version = runner.registry.resolve(PROMPT)
    assert (header.prompt_ref, header.prompt_sha256) == (version.ref, version.sha256)
    assert (header.model, header.quantization, header.gguf_file) == ("fake-q4", "Q4_K_M", "fake-q4.gguf")
    assert header.base_url == fake_model.base_url
    assert header.params == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1024, "seed": None, "stop": []}
    assert header.golden_version == dataset_version(load_golden_dir(runner.golden_dir))
    assert header.fingerprint.git_revision == git_revision()
    assert header.fingerprint.app_version
    assert header.fingerprint.server_build == "n/a"  # this server has no /props
    assert header.concurrency == 4  # no slot count reported: the default
    assert header.started_at is not None
    assert header.ended_at is not None
    assert header.started_at <= header.ended_at
    assert len(fake_model.chat_requests()) == 26
    # The request carried the RCA schema and the prompt's params.
    body = fake_model.chat_requests()[0].body
    assert body["response_format"]["type"] == "json_object"
    assert body["temperature"] == 0.0
    items = {i.example_id: i for i in load_items(runner.engine, header.id)}
    oom = items["oom_killed-0"]
    assert (oom.outcome, oom.predicted) == ("correct", "oom_killed")
    # The cited prompt line maps back to the entries behind it through the budget the prompt was
    # built with: here four short lines fold under line 1 (the 1.2x-raw bound), so line 1 is all four.
    example = next(e for e in small_golden_set() if e.id == "oom_killed-0")
    entries = [LogEntry(ts_ns=log.ts_ns, labels=log.labels, line=log.line) for log in example.logs]
    expected = evidence_to_entries(fit_to_budget(entries, max_tokens=2000), [1])
    assert expected
    assert oom.cited_evidence == expected
    assert oom.expected_evidence == [1, 2]
    assert oom.trace_id is not None
    assert len(oom.trace_id) == 32
    assert oom.ttft_ms is not None
    assert oom.total_ms is not None
    assert oom.completion_tokens == 1
    assert items["healthy-0"].outcome == "wrong"
    assert len({i.trace_id for i in items.values()}) == 26  # a trace per item


def test_unchanged_rerun_does_no_inference(fake_model: FakeOpenAIServer, make_runner: Runner) -> None:
    runner = make_runner()
    first = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4"))
    sent = len(fake_model.chat_requests())
    second = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4"))
    assert len(fake_model.chat_requests()) == sent
    assert second.id != first.id
    items = load_items(runner.engine, second.id)
    assert all(item.cached for item in items)
    assert second.summary is not None
    assert first.summary is not None
    assert second.summary.cached_items == 26
    assert second.summary.model_dump(exclude={"cached_items"}) == first.summary.model_dump(
        exclude={"cached_items"}
    )
    # --no-cache asks the model again.
    runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", use_cache=False))
    assert len(fake_model.chat_requests()) == sent + 26


def test_cache_key_follows_the_configuration(fake_model: FakeOpenAIServer, make_runner: Runner) -> None:
    runner = make_runner()
    runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=3)))
    sent = len(fake_model.chat_requests())
    runner.run(EvalRequest(prompt="rca-zero-shot", model="fake-q4", slice=parse_slice(limit=3)))
    assert len(fake_model.chat_requests()) == sent + 3  # another prompt version: other keys
    runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=4)))
    assert len(fake_model.chat_requests()) == sent + 4  # only the fourth example is new


def test_invalid_output_is_kept_apart_and_cached(fake_model: FakeOpenAIServer, make_runner: Runner) -> None:
    fake_model.script.tokens = [
        '{"root_cause": "martian_invasion", "confidence": 1, "evidence": [], "summary": "x"}'
    ]
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=4)))
    assert header.status == "completed"
    items = load_items(runner.engine, header.id)
    assert {i.outcome for i in items} == {"invalid_output"}
    assert all("root_cause" in (i.error or "") for i in items)
    assert all("martian_invasion" in i.raw_output for i in items)
    assert header.summary is not None
    assert header.summary.invalid_output_rate == 1.0
    assert (
        header.summary.confusion.counts[0][-1] + sum(row[-1] for row in header.summary.confusion.counts[1:])
        == 4
    )
    sent = len(fake_model.chat_requests())
    again = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=4)))
    assert len(fake_model.chat_requests()) == sent  # a wrong answer is still an answer: cached
    assert {i.outcome for i in load_items(runner.engine, again.id)} == {"invalid_output"}


def test_server_errors_are_kept_apart_and_never_cached(
    fake_model: FakeOpenAIServer, make_runner: Runner
) -> None:
    fake_model.script.status = 500
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=3)))
    assert header.status == "completed"
    assert not header.succeeded  # every item failed at the server: not a success to report
    items = load_items(runner.engine, header.id)
    assert {i.outcome for i in items} == {"server_error"}
    assert all("HTTP 500" in (i.error or "") for i in items)
    assert len(fake_model.chat_requests()) == 3  # a 500 is the server's verdict on the request: not retried
    with session_scope(runner.engine) as session:
        assert session.scalar(select(func.count()).select_from(EvalCacheRow)) == 0
    fake_model.script.status = None
    sent = len(fake_model.chat_requests())
    retry = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=3)))
    assert len(fake_model.chat_requests()) == sent + 3
    assert {i.outcome for i in load_items(runner.engine, retry.id)} <= {"correct", "wrong"}


def test_timeouts_are_kept_apart(
    fake_model: FakeOpenAIServer, make_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "0.5")
    fake_model.script.tokens = ['{"root_cause": ', '"oom_killed"']
    fake_model.script.hang_after = 1
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=2)))
    items = load_items(runner.engine, header.id)
    assert {i.outcome for i in items} == {"timeout"}
    assert all("did not answer" in (i.error or "") for i in items)
    assert header.summary is not None
    assert header.summary.error_rate == 1.0
    assert header.summary.latency.timed_items == 0


# llama-server's error body while it loads the model (or, asked with fail_on_no_slot, has no free slot).
LLAMA_SERVER_503 = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}


def test_transient_server_faults_are_retried_until_the_answer_comes(
    fake_model: FakeOpenAIServer, make_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_RETRY_BACKOFF_SECONDS", "0.01")
    fake_model.script.status, fake_model.script.error_body = 503, LLAMA_SERVER_503
    fake_model.script.faults = 2  # the first two requests meet a busy server, then it answers
    runner = make_runner()
    header = runner.run(
        EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=3), concurrency=1)
    )
    items = load_items(runner.engine, header.id)
    assert {i.outcome for i in items} <= {"correct", "wrong"}
    assert header.succeeded
    assert len(fake_model.chat_requests()) == 3 + 2


def test_a_connection_reset_mid_answer_is_retried(
    fake_model: FakeOpenAIServer, make_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_RETRY_BACKOFF_SECONDS", "0.01")
    answer = rca_json("oom_killed", [2])
    fake_model.script.tokens = [answer[:10], answer[10:]]  # the first request is cut after its first token
    fake_model.script.reset_after, fake_model.script.faults = 1, 1
    runner = make_runner()
    header = runner.run(
        EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=2), concurrency=1)
    )
    assert {i.outcome for i in load_items(runner.engine, header.id)} <= {"correct", "wrong"}
    assert len(fake_model.chat_requests()) == 2 + 1


def test_a_server_that_stays_busy_gives_up_after_the_retries_and_says_so(
    fake_model: FakeOpenAIServer, make_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_RETRY_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("EVAL_TRANSIENT_RETRIES", "2")
    fake_model.script.status, fake_model.script.error_body = 503, LLAMA_SERVER_503
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=2)))
    items = load_items(runner.engine, header.id)
    assert {i.outcome for i in items} == {"server_error"}
    assert all("HTTP 503: Loading model" in (i.error or "") for i in items)
    assert all("after 3 attempts" in (i.error or "") for i in items)
    assert len(fake_model.chat_requests()) == 2 * 3
    assert not header.succeeded


def test_errors_about_the_request_or_the_model_are_not_retried(
    fake_model: FakeOpenAIServer, make_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_RETRY_BACKOFF_SECONDS", "0.01")
    fake_model.script.status = 400
    fake_model.script.error_body = {
        "error": {
            "code": 400,
            "message": "the request exceeds the available context size",
            "type": "exceed_context_size_error",
        }
    }
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=2)))
    items = load_items(runner.engine, header.id)
    assert {i.outcome for i in items} == {"server_error"}
    assert not any("attempts" in (i.error or "") for i in items)
    assert len(fake_model.chat_requests()) == 2


def test_a_server_that_is_down_fails_the_run_clearly(
    golden_dir: Path, use_models_file: Callable[..., Path], make_runner: Runner
) -> None:
    use_models_file(f"http://127.0.0.1:{free_port()}")
    runner = make_runner()
    with pytest.raises(LLMConnectError, match="not ready") as excinfo:
        runner.run(EvalRequest(prompt=PROMPT, model="fake-q4"))
    assert "\n" not in excinfo.value.user_message()
    (header,) = list_runs(runner.engine)
    assert header.status == "failed"
    assert header.error is not None
    assert "not ready" in header.error
    assert header.summary is not None
    assert header.summary.items == 0


def test_cancel_stops_the_run_and_keeps_what_is_done(
    fake_model: FakeOpenAIServer, make_runner: Runner
) -> None:
    fake_model.script.delay_s = 0.05
    runner = make_runner()
    cancel = threading.Event()

    def on_progress(done: int, total: int) -> None:
        if done >= 3:
            cancel.set()

    header = runner.run(
        EvalRequest(prompt=PROMPT, model="fake-q4", concurrency=2), on_progress=on_progress, cancel=cancel
    )
    assert header.status == "cancelled"
    stored = load_items(runner.engine, header.id)
    assert 3 <= len(stored) < 26
    finished = runner.resume(header.id)
    assert finished.status == "completed"
    assert len(load_items(runner.engine, header.id)) == 26


def test_run_lookup_by_prefix_and_listing(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    first = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=2)))
    second = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=3)))
    assert [h.id for h in list_runs(runner.engine)] == [second.id, first.id]
    assert get_run(runner.engine, first.id[:8]).id == first.id
    with pytest.raises(InputError, match="no eval run"):
        get_run(runner.engine, "zzzzzzzz")


def test_empty_slices_and_unknown_models_are_refused(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    with pytest.raises(InputError, match="selects no golden examples"):
        runner.run(
            EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice("class=oom_killed;source=imported"))
        )
    with pytest.raises(Exception, match="unknown model"):
        runner.run(EvalRequest(model="gpt-17"))
    assert list_runs(runner.engine) == []


# --- repeats and scenarios ---------------------------------------------------------------------------------


def test_repeats_send_a_seed_each_and_report_agreement(
    fake_model: FakeOpenAIServer, make_runner: Runner
) -> None:
    # OOM windows are always recognised; every other answer depends on the seed, as sampling would.
    def answer(body: dict[str, Any]) -> list[str]:
        if "OOMKilled" in json.dumps(body["messages"]):
            return [rca_json("oom_killed", [2])]
        return [rca_json("healthy" if body["seed"] % 2 else "dns_resolution_failure")]

    fake_model.script.respond = answer
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", repeats=3))
    assert header.status == "completed"
    assert header.repeats == 3
    assert header.fingerprint.repeat_seeds == [1, 2, 3]  # the prompt sets no seed: 1, 2, 3
    requests = fake_model.chat_requests()
    assert len(requests) == 26 * 3
    assert sorted({r.body["seed"] for r in requests}) == [1, 2, 3]
    assert all(r.body["temperature"] == 0.0 for r in requests)  # the prompt's own temperature
    items = load_items(runner.engine, header.id)
    assert len(items) == 78
    assert {(i.example_id, i.repeat) for i in items} == {
        (e.id, r) for e in small_golden_set() for r in range(3)
    }
    assert header.summary is not None
    assert header.summary.items == 78  # every answer counts; Compare uses the per-item majority
    assert header.report is not None
    agreement = header.report.agreement
    assert agreement is not None
    assert (agreement.repeats, agreement.examples) == (3, 26)
    assert agreement.flip_rate == pytest.approx(24 / 26)
    assert agreement.mean_agreement == pytest.approx((2 * 1.0 + 24 * 2 / 3) / 26)
    assert "oom_killed-0" not in agreement.flipped
    assert "healthy-0" in agreement.flipped
    # Each repeat is cached under its own seed: the same run again asks nothing.
    again = runner.run(EvalRequest(prompt=PROMPT, model="fake-q4", repeats=3))
    assert len(fake_model.chat_requests()) == 78
    assert again.report is not None
    assert again.report.agreement == agreement


def test_single_runs_send_the_prompts_own_params(fake_model: FakeOpenAIServer, make_runner: Runner) -> None:
    header = make_runner().run(EvalRequest(prompt=PROMPT, model="fake-q4", slice=parse_slice(limit=2)))
    assert all("seed" not in r.body for r in fake_model.chat_requests())
    assert header.report is not None
    assert header.report.agreement is None
    assert header.fingerprint.repeat_seeds == [None]


def test_items_keep_their_scenario_and_runs_count_them(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(model=BASELINE_MODEL_NAME))
    items = load_items(runner.engine, header.id)
    assert {i.scenario for i in items if i.example_id.startswith("oom_killed")} == {"oom_killed-window"}
    assert header.report is not None
    assert (header.report.examples, header.report.scenarios, header.report.items_with_scenario) == (
        26,
        13,
        26,
    )
    # Examples without a scenario (sets from before v2) count as one scenario each.
    plain = [e.model_copy(update={"scenario": None}) for e in small_golden_set()]
    bare = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=6)), examples=plain)
    assert bare.report is not None
    assert (bare.report.scenarios, bare.report.items_with_scenario) == (6, 0)


# --- the real llama-server --------------------------------------------------------------------------------


@pytest.mark.llama
def test_real_llama_server_run(
    llama_server: LocalModelServer,
    llama_models_file: Path,
    golden_dir: Path,
    make_runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELS_FILE", str(llama_models_file))
    runner = make_runner()
    request = EvalRequest(prompt=PROMPT, model="tiny-q4_k_m", slice=parse_slice(limit=4))
    header = runner.run(request)
    assert header.status == "completed"
    assert header.concurrency == llama_server.parallel  # the server's slot count
    assert header.fingerprint.server_build not in ("", "n/a")
    assert header.fingerprint.server is not None
    assert header.fingerprint.server["model_path"]
    items = load_items(runner.engine, header.id)
    assert len(items) == 4
    # A random-weight model under the schema's grammar answers, rightly or wrongly, but answers.
    assert {i.outcome for i in items} <= {"correct", "wrong", "invalid_output"}
    assert all(i.prompt_tokens and i.completion_tokens and i.ttft_ms and i.total_ms for i in items)
    assert header.summary is not None
    assert header.summary.latency.total_ms["0.5"] > 0
    again = runner.run(request)
    assert again.summary is not None
    assert again.summary.cached_items == 4
    assert again.summary.accuracy == header.summary.accuracy


@pytest.mark.llama
def test_real_llama_server_repeats_sample_with_a_seed_each(
    llama_server: LocalModelServer,
    llama_models_file: Path,
    golden_dir: Path,
    make_runner: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the prompt's temperature at 1, the real server's answers vary across repeats' seeds."""
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    template = (PROJECT_ROOT / "prompts" / f"{PROMPT}.j2").read_text(encoding="utf-8")
    assert "  temperature: 0.0\n" in template
    (prompts / f"{PROMPT}.j2").write_text(template.replace("  temperature: 0.0\n", "  temperature: 1.0\n"))
    monkeypatch.setenv("PROMPTS_DIR", str(prompts))
    monkeypatch.setenv("MODELS_FILE", str(llama_models_file))
    runner = make_runner()
    header = runner.run(
        EvalRequest(
            prompt=PROMPT, model="tiny-q4_k_m", slice=parse_slice(limit=2), repeats=2, use_cache=False
        )
    )
    assert header.status == "completed"
    assert header.params["temperature"] == 1.0
    assert header.fingerprint.repeat_seeds == [1, 2]
    items = load_items(runner.engine, header.id)
    assert sorted((i.example_id, i.repeat) for i in items) == [
        (e, r) for e in header.item_ids for r in (0, 1)
    ]
    assert {i.outcome for i in items} <= {"correct", "wrong", "invalid_output"}
    # A random-weight model sampling at temperature 1 writes different answers under different seeds.
    by_example: dict[str, set[str]] = {}
    for item in items:
        by_example.setdefault(item.example_id, set()).add(item.raw_output)
    assert any(len(answers) == 2 for answers in by_example.values())
    assert header.report is not None
    assert header.report.agreement is not None
    assert header.report.agreement.repeats == 2


@pytest.mark.timeout(1800)  # a real model on a shared 2-core machine: about a minute when it is quiet
def test_smollm2_answers_a_slice_with_one_example_per_class_and_no_invalid_output(
    smollm2_server: LocalModelServer,
    smollm2_models_file: Path,
    golden_dir: Path,
    make_runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded default's real model over a stratified slice: every answer valid, none lost."""
    monkeypatch.setenv("MODELS_FILE", str(smollm2_models_file))
    runner = make_runner()
    per_class: dict[str, GoldenExample] = {}
    for example in small_golden_set():
        per_class.setdefault(example.label.root_cause, example)
    chosen = [per_class[cause] for cause in sorted(per_class)[:4]]
    request = EvalRequest(prompt=PROMPT, model=SMOLLM2_MODEL, slice=parse_slice(ids=[e.id for e in chosen]))
    header = runner.run(request, examples=chosen)
    assert header.status == "completed"
    items = load_items(runner.engine, header.id)
    assert sorted(i.example_id for i in items) == sorted(e.id for e in chosen)
    # Grammar-constrained decoding inside max_tokens: a real model may be wrong, never unparseable.
    assert {i.outcome for i in items} <= {"correct", "wrong"}, [(i.outcome, i.error) for i in items]
    assert all(i.parsed and i.prompt_tokens and i.completion_tokens for i in items)
