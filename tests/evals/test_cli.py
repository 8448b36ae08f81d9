"""``logtriage eval``: run, resume, list, show and compare from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from typer.testing import CliRunner

from app.cli import evals as eval_cli_module
from app.cli.evals import eval_cli
from app.config import PROJECT_ROOT, get_settings
from app.errors import UnknownModelError
from app.evals.metrics import INVALID, ItemResult
from app.evals.runner import BASELINE_MODEL_NAME, load_items
from app.llm.server import LocalModelServer
from app.services import build_services
from app.taxonomy import ROOT_CAUSES
from tests.conftest import require_component
from tests.evals.conftest import rca_json
from tests.fixtures.llama import FakeOpenAIServer

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
    assert pair["verdict"].startswith("A is better on macro-F1 by ")
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
    assert "A is better on" in text.stdout
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
