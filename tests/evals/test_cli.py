"""``logtriage eval``: run, resume, list, show and compare from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_EXPLANATION,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_EVALUATION_SCORE_VALUE,
)
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from typer.testing import CliRunner

from app.cli import evals as eval_cli_module
from app.cli.evals import eval_cli
from app.config import PROJECT_ROOT, get_settings
from app.errors import UnknownModelError
from app.evals.metrics import INVALID, ItemResult
from app.evals.runs import load_items
from app.evals.spec import BASELINE_MODEL_NAME
from app.llm.server import LocalModelServer
from app.services import build_services
from app.taxonomy import ROOT_CAUSES
from tests.conftest import require_component
from tests.evals.conftest import rca_json
from tests.fixtures.llama import FakeOpenAIServer
from tests.fixtures.otlp import OTLPReceiver

TINY_SLICE = 12


def invoke(*args: str) -> Any:
    """Run ``eval`` with these arguments and return the parsed JSON it printed."""
    result = CliRunner().invoke(eval_cli, [*args, "--json"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return json.loads(result.stdout)


def stored_items(run_id: str) -> list[ItemResult]:
    return load_items(build_services(get_settings()).engine, run_id)


def assert_matches_scikit_learn(metrics: dict[str, Any], items: list[ItemResult]) -> None:
    """A comparison's metrics for one run equal scikit-learn's on that run's stored predictions."""
    y_true = [i.expected for i in items]
    y_pred = [i.predicted if i.outcome in ("correct", "wrong") else INVALID for i in items]
    present = [c for c in ROOT_CAUSES if c in set(y_true) | set(y_pred)]
    assert metrics["items"] == len(items)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert metrics["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    )
    assert metrics["micro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=present, average="micro", zero_division=0)
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=present, zero_division=0
    )
    assert [row["label"] for row in metrics["per_class"]] == present
    assert [row["precision"] for row in metrics["per_class"]] == pytest.approx(list(precision))
    assert [row["recall"] for row in metrics["per_class"]] == pytest.approx(list(recall))
    assert [row["f1"] for row in metrics["per_class"]] == pytest.approx(list(f1))
    assert [row["support"] for row in metrics["per_class"]] == list(support)
    expected_matrix = confusion_matrix(y_true, y_pred, labels=[*ROOT_CAUSES, INVALID])[: len(ROOT_CAUSES)]
    assert metrics["confusion"]["counts"] == expected_matrix.tolist()


def shared(items: list[ItemResult], keys: set[tuple[str, str]]) -> list[ItemResult]:
    return sorted((i for i in items if i.key in keys), key=lambda i: i.key)


# --- run, list, show ---------------------------------------------------------------------------------------


def test_run_prints_the_run_id(golden_dir: Path) -> None:
    result = CliRunner().invoke(eval_cli, ["run", "--model", BASELINE_MODEL_NAME, "--limit", "3"])
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip()
    assert len(run_id) == 36
    shown = invoke("show", run_id)
    assert shown["run"]["id"] == run_id
    assert shown["run"]["status"] == "completed"
    assert shown["stored_items"] == 3


def test_run_json_is_the_run_summary(golden_dir: Path) -> None:
    data = invoke("run", "--model", BASELINE_MODEL_NAME, "--slice", "class=oom_killed,dns_resolution_failure")
    run = data["run"]
    assert (run["model"], run["status"], run["items"], run["succeeded"]) == (
        BASELINE_MODEL_NAME,
        "completed",
        4,
        True,
    )
    assert run["slice"] == {"classes": ["oom_killed", "dns_resolution_failure"]}
    assert run["fingerprint"]["git_revision"]
    assert data["metrics"]["accuracy"] == 1.0
    assert [row["label"] for row in data["metrics"]["per_class"]] == ["oom_killed", "dns_resolution_failure"]
    assert "item_ids" not in run


def test_slice_options(golden_dir: Path) -> None:
    assert invoke("run", "--model", BASELINE_MODEL_NAME, "--source", "labeled")["run"]["items"] == 13
    by_ids = invoke("run", "--model", BASELINE_MODEL_NAME, "--ids", "healthy-0,oom_killed-1")
    assert by_ids["run"]["slice"] == {"ids": ["healthy-0", "oom_killed-1"]}
    assert by_ids["metrics"]["items"] == 2


def test_list_and_show(golden_dir: Path) -> None:
    first = invoke("run", "--model", BASELINE_MODEL_NAME, "--limit", "2")["run"]["id"]
    second = invoke("run", "--model", BASELINE_MODEL_NAME, "--limit", "4")["run"]["id"]
    listed = invoke("list")
    assert [entry["run"]["id"] for entry in listed] == [second, first]
    assert listed[0]["metrics"]["items"] == 4
    with_items = invoke("show", second[:8], "--items")
    assert len(with_items["items"]) == 4
    assert {"example_id", "expected", "predicted", "outcome", "raw_output", "trace_id"} <= set(
        with_items["items"][0]
    )
    text = CliRunner().invoke(eval_cli, ["show", second])
    assert text.exit_code == 0
    for heading in ("Per class", "Confusion matrix", "Latency", "Failing items"):
        assert heading in text.stdout


def test_errors_are_one_line_and_exit_non_zero(
    golden_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(eval_cli, ["run", "--model", "gpt-17"])
    assert isinstance(result.exception, UnknownModelError)
    for argv in (
        ["run", "--model", "gpt-17"],
        ["show", "no-such-run"],
        ["run", "--model", BASELINE_MODEL_NAME, "--slice", "class=nope"],
    ):
        monkeypatch.setattr(sys, "argv", ["logtriage eval", *argv])
        with pytest.raises(SystemExit) as exited:
            eval_cli_module.main()
        assert exited.value.code == 1
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("error: ")
    assert invoke("list") == []  # none of them started a run


# --- compare ---------------------------------------------------------------------------------------------


def test_compare_json_equals_scikit_learn_on_stored_predictions(
    fake_openai_server: FakeOpenAIServer, use_models_file: Callable[..., Path], golden_dir: Path
) -> None:
    fake_openai_server.script.tokens = [rca_json("oom_killed", [2])]
    use_models_file(fake_openai_server.base_url)
    baseline = invoke("run", "--model", BASELINE_MODEL_NAME)["run"]["id"]
    model = invoke("run", "--model", "fake-q4", "--prompt", "rca-zero-shot", "--limit", "20")["run"]["id"]
    comparison = invoke("compare", baseline, model)
    assert comparison["shared_items"] == 20
    assert comparison["note"] is not None  # 26 against 20 items: it says so
    (pair,) = comparison["pairs"]
    assert pair["claims"][1]["text"].startswith("B is worse than A on macro-F1 by ")
    assert (pair["mcnemar"]["method"], pair["mcnemar"]["a_only"], pair["mcnemar"]["b_only"]) == (
        "exact",
        18,
        0,
    )
    keys = {tuple(k) for k in ((i.example_id, i.content_hash) for i in stored_items(model))}
    for column, run_id in zip(comparison["runs"], (baseline, model), strict=True):
        assert column["run_id"] == run_id
        assert_matches_scikit_learn(column["metrics"], shared(stored_items(run_id), keys))
        assert column["accuracy"]["low"] <= column["accuracy"]["value"] <= column["accuracy"]["high"]
    text = CliRunner().invoke(eval_cli, ["compare", baseline, model])
    assert text.exit_code == 0
    assert "B is worse than A on" in text.stdout
    assert "only on the 20 items" in text.stdout


@pytest.mark.llama
def test_shipped_golden_set_with_the_tiny_model_and_the_baseline(
    llama_server: LocalModelServer, llama_models_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline over the whole shipped set, the tiny model over a slice; compare equals scikit-learn."""
    require_component(
        any((PROJECT_ROOT / "golden").glob("*.jsonl")), "the shipped golden set", "golden/*.jsonl"
    )
    monkeypatch.setenv("MODELS_FILE", str(llama_models_file))
    monkeypatch.setenv("GOLDEN_DIR", str(PROJECT_ROOT / "golden"))
    # Reading the prompt is most of a model answer's time on two shared cores: short prompts keep the
    # slice quick (the budget policy itself is tested in tests/test_triage.py).
    monkeypatch.setenv("LOG_TOKEN_CAP", "400")
    get_settings.cache_clear()
    baseline = invoke("run", "--model", BASELINE_MODEL_NAME)
    assert baseline["metrics"]["items"] >= 500
    # A slice keeps the suite quick: each tiny-model answer is hundreds of tokens on two CPUs.
    tiny = invoke(
        "run", "--model", "tiny-q4_k_m", "--prompt", "rca-evidence-first", "--limit", str(TINY_SLICE)
    )
    assert tiny["run"]["status"] == "completed"
    assert tiny["run"]["concurrency"] == llama_server.parallel
    lost = [(i.example_id, i.outcome, i.error) for i in stored_items(tiny["run"]["id"])]
    lost = [item for item in lost if item[1] in ("server_error", "timeout")]
    assert tiny["metrics"]["outcomes"]["server_error"] == 0, lost  # the error says which mechanism failed
    assert tiny["metrics"]["outcomes"]["timeout"] == 0, lost
    baseline_id, tiny_id = baseline["run"]["id"], tiny["run"]["id"]
    assert_matches_scikit_learn(baseline["metrics"], stored_items(baseline_id))
    comparison = invoke("compare", tiny_id, baseline_id)
    assert comparison["shared_items"] == TINY_SLICE
    keys = {i.key for i in stored_items(tiny_id)}
    for column, run_id in zip(comparison["runs"], (tiny_id, baseline_id), strict=True):
        assert_matches_scikit_learn(column["metrics"], shared(stored_items(run_id), keys))
    # Re-running the unchanged configuration asks the model nothing: every item comes from the cache.
    again = invoke(
        "run", "--model", "tiny-q4_k_m", "--prompt", "rca-evidence-first", "--limit", str(TINY_SLICE)
    )
    assert again["metrics"]["cached_items"] == TINY_SLICE
    assert again["metrics"]["accuracy"] == tiny["metrics"]["accuracy"]
    assert again["metrics"]["macro_f1"] == tiny["metrics"]["macro_f1"]


# --- exit codes, shards, repeats, slices and events, as a user runs them ------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``logtriage eval ...`` in a subprocess, in this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "eval", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed on stderr (asserting it is one line, no traceback)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def half_broken_model(
    fake_openai_server: FakeOpenAIServer, use_models_file: Callable[..., Path], golden_dir: Path
) -> FakeOpenAIServer:
    """fake-q4 answers OOM windows outside the taxonomy (invalid output) and the rest validly."""

    def answer(body: dict[str, Any]) -> list[str]:
        if "OOMKilled" in json.dumps(body["messages"]):
            return ['{"root_cause": "gremlins", "confidence": 1, "evidence": [], "summary": "?"}']
        return [rca_json("healthy")]

    fake_openai_server.script.respond = answer
    use_models_file(fake_openai_server.base_url)
    return fake_openai_server


def test_failed_items_decide_the_exit_code(half_broken_model: FakeOpenAIServer) -> None:
    ran = cli("run", "--model", "fake-q4", "--json")
    assert ran.returncode == eval_cli_module.EXIT_ITEMS_FAILED
    summary = json.loads(ran.stdout)  # the JSON is still printed for scripts
    run_id = summary["run"]["id"]
    assert (summary["run"]["status"], summary["run"]["failed_items"]) == ("completed", 2)
    line = error_line(ran)
    assert f"run {run_id} completed, but 2 of 26 items failed (2 invalid output)" in line
    assert f"logtriage eval resume {run_id} --retry-failed" in line
    # Accepting failures is explicit (the invalid answers come from the cache this time).
    accepted = cli("run", "--model", "fake-q4", "--allow-failures")
    assert accepted.returncode == 0, accepted.stderr
    assert "failed items: 2 invalid output" in accepted.stderr
    # Fix the model, retry the failed items only: exit 0, history kept.
    half_broken_model.script.respond = None
    half_broken_model.script.tokens = [rca_json("oom_killed", [2])]
    sent = len(half_broken_model.chat_requests())
    retried = cli("resume", run_id[:8], "--retry-failed", "--json")
    assert retried.returncode == 0, retried.stderr
    assert len(half_broken_model.chat_requests()) == sent + 2
    after = json.loads(retried.stdout)
    assert (after["run"]["failed_items"], after["run"]["report"]["retried"]) == (0, 2)
    shown = invoke("show", run_id, "--items")
    assert [h["outcome"] for h in shown["history"]] == ["invalid_output", "invalid_output"]
    assert {i["outcome"] for i in shown["items"] if i["example_id"].startswith("oom")} == {"correct"}


def test_an_eval_whose_every_item_failed_exits_non_zero(
    fake_openai_server: FakeOpenAIServer, use_models_file: Callable[..., Path], golden_dir: Path
) -> None:
    fake_openai_server.script.status = 500
    use_models_file(fake_openai_server.base_url)
    for extra in ([], ["--allow-failures"]):
        result = cli("run", "--model", "fake-q4", "--limit", "3", *extra)
        assert result.returncode == 1
        assert "every item of run" in error_line(result)
        assert "(3 server errors)" in error_line(result)


def test_bad_shard_and_run_id_options_are_one_line_errors(golden_dir: Path) -> None:
    for args, needle in (
        (["--shard", "0/3"], "--shard needs --run-id"),
        (["--run-id", "r1", "--shard", "3/3"], "bad shard"),
        (["--run-id", "r1", "--shard", "one/3"], "bad shard"),
        (["--run-id", "bad id!"], "bad run id"),
        (["--seed", "3"], "per-class draw"),
    ):
        result = cli("run", "--model", BASELINE_MODEL_NAME, *args)
        assert result.returncode == 1, result.stderr
        assert needle in error_line(result)
    assert invoke("list") == []


def test_joining_a_run_needs_the_same_options(golden_dir: Path) -> None:
    first = invoke("run", "--model", BASELINE_MODEL_NAME, "--run-id", "nightly-1", "--limit", "4")
    assert first["run"]["id"] == "nightly-1"
    again = invoke("run", "--model", BASELINE_MODEL_NAME, "--run-id", "nightly-1", "--limit", "4")
    assert again["run"]["status"] == "completed"  # joined the finished run: nothing left to do
    other = cli("run", "--model", BASELINE_MODEL_NAME, "--run-id", "nightly-1", "--limit", "5")
    assert other.returncode == 1
    line = error_line(other)
    assert "run nightly-1 exists and runs something else (differs in items_sha256, slice, item_ids)" in line
    assert len(stored_items("nightly-1")) == 4


def test_per_class_and_scenarios_on_the_command_line(golden_dir: Path) -> None:
    data = invoke("run", "--model", BASELINE_MODEL_NAME, "--per-class", "1", "--seed", "5")
    run = data["run"]
    assert run["slice"] == {"per_class": 1, "seed": 5}
    assert (run["items"], run["scenarios"]) == (13, 13)
    again = invoke("run", "--model", BASELINE_MODEL_NAME, "--slice", "per_class=1;seed=5")
    chosen = {i.example_id for i in stored_items(run["id"])}
    assert {i.example_id for i in stored_items(again["run"]["id"])} == chosen
    assert len({i.expected for i in stored_items(run["id"])}) == 13
    text = CliRunner().invoke(eval_cli, ["show", run["id"]])
    assert "13 examples · 13 scenarios" in text.stdout


def test_repeats_on_the_command_line(half_broken_model: FakeOpenAIServer) -> None:
    half_broken_model.script.respond = lambda body: [
        rca_json("healthy" if body["seed"] % 2 else "probe_failure")
    ]
    ran = cli("run", "--model", "fake-q4", "--limit", "4", "--repeat", "2", "--json")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)["run"]["report"]
    assert (report["examples"], report["repeats"], report["results"]) == (4, 2, 8)
    assert report["agreement"]["flip_rate"] == 1.0
    assert report["agreement"]["mean_agreement"] == 0.5
    assert sorted(r.body["seed"] for r in half_broken_model.chat_requests()) == [1, 1, 1, 1, 2, 2, 2, 2]
    text = cli("show", json.loads(ran.stdout)["run"]["id"])
    assert "agreement across repeats 50.0% · answer flips on 100.0% of 4 examples" in text.stdout


def test_each_item_span_carries_its_evaluation_result(golden_dir: Path, otlp_receiver: OTLPReceiver) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint, "OTEL_TRACES_EXPORTER": "otlp"}
    result = cli(
        "run", "--model", BASELINE_MODEL_NAME, "--slice", "class=oom_killed,healthy", "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run"]["id"]
    spans = [s for s in otlp_receiver.by_name("eval.item") if s.attributes["logtriage.eval.run_id"] == run_id]
    assert len(spans) == 4
    for span in spans:
        events = {e.attributes[GEN_AI_EVALUATION_NAME]: e for e in span.events}
        assert all(e.name == "gen_ai.evaluation.result" for e in span.events)
        root_cause = events["logtriage.root_cause"].attributes
        assert root_cause[GEN_AI_EVALUATION_SCORE_VALUE] == 1.0
        assert root_cause[GEN_AI_EVALUATION_SCORE_LABEL] == "correct"
        expected = "oom_killed" if "oom" in span.attributes["logtriage.eval.example_id"] else "healthy"
        assert root_cause[GEN_AI_EVALUATION_EXPLANATION] == f"expected {expected}, got {expected}"
        if expected == "oom_killed":  # labeled evidence, all cited by the baseline
            evidence = events["logtriage.evidence_recall"].attributes
            assert (evidence[GEN_AI_EVALUATION_SCORE_VALUE], evidence[GEN_AI_EVALUATION_SCORE_LABEL]) == (
                1.0,
                "all",
            )
        else:
            assert "logtriage.evidence_recall" not in events
