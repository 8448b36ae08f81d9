"""Few-shot leakage in eval results: an answer that copies a worked example is flagged and counted.

The model is the fake llama-server; the prompt is the shipped few-shot one, whose worked examples name
placeholder workloads (``app-a``, ``dns-1``...) that no window of the small golden set contains.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli.evals import eval_cli
from app.evals.runner import BASELINE_MODEL_NAME, EvalRequest, EvalRunner, load_items, parse_slice
from tests.fixtures.llama import FakeOpenAIServer

FEW_SHOT = "rca-evidence-first"
ZERO_SHOT = "rca-zero-shot"
SLICE = "ids=oom_killed-0,healthy-0,dns_resolution_failure-0"
Runner = Callable[[], EvalRunner]

# The first worked example's story, told about a window with no app-a in it.
COPIED = "app-a reached its memory limit and was killed; the restarts follow from it."
HONEST = {
    "oom_killed": "The java worker exceeded its memory limit and was OOMKilled by the kernel.",
    "healthy": "Only health checks answered with 200 and requests served; nothing failed.",
    "dns_resolution_failure": "db.internal does not resolve: NXDOMAIN from the cluster DNS at 10.96.0.10.",
}


def answer(cause: str, summary: str, evidence: list[int]) -> str:
    return json.dumps({"root_cause": cause, "confidence": 0.8, "evidence": evidence, "summary": summary})


def window_cause(body: dict[str, Any]) -> str:
    """Which window of the slice a request asks about, from its last (user) message."""
    logs = body["messages"][-1]["content"]
    if "Killed process 4242" in logs:
        return "oom_killed"
    if "NXDOMAIN" in logs:
        return "dns_resolution_failure"
    return "healthy"


@pytest.fixture
def model(
    fake_openai_server: FakeOpenAIServer, use_models_file: Callable[..., Path], golden_dir: Path
) -> FakeOpenAIServer:
    """The fake server as model fake-q4, answering honestly about every window of the slice."""
    fake_openai_server.script.respond = lambda body: [
        answer(window_cause(body), HONEST[window_cause(body)], [2])
    ]
    use_models_file(fake_openai_server.base_url)
    return fake_openai_server


def copying_oom_answers(model: FakeOpenAIServer) -> None:
    """From now on the oom window's answer tells the worked example's story; the others stay honest."""

    def respond(body: dict[str, Any]) -> list[str]:
        cause = window_cause(body)
        return [answer(cause, COPIED if cause == "oom_killed" else HONEST[cause], [2])]

    model.script.respond = respond


def test_an_answer_copying_a_worked_example_is_flagged_and_the_run_counts_it(
    model: FakeOpenAIServer, make_runner: Runner
) -> None:
    copying_oom_answers(model)
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=FEW_SHOT, model="fake-q4", slice=parse_slice(SLICE)))
    items = {item.example_id: item for item in load_items(runner.engine, header.id)}
    oom = items["oom_killed-0"]
    assert oom.outcome == "correct"  # right class, and still a copy: the flag is not about correctness
    assert oom.leaked
    assert oom.copied_example is not None
    assert "app-a" in oom.copied_example
    assert items["healthy-0"].copied_example == []
    assert not items["dns_resolution_failure-0"].leaked
    summary = header.summary
    assert summary is not None
    assert (summary.leaked_items, summary.leak_checked_items) == (1, 3)
    assert summary.leak_rate == pytest.approx(1 / 3)

    # The same run again comes from the result cache, and its items carry the flag all the same.
    again = runner.run(EvalRequest(prompt=FEW_SHOT, model="fake-q4", slice=parse_slice(SLICE)))
    cached = {item.example_id: item for item in load_items(runner.engine, again.id)}
    assert all(item.cached for item in cached.values())
    assert cached["oom_killed-0"].copied_example == oom.copied_example
    assert again.summary is not None
    assert again.summary.leaked_items == 1

    # `eval show` says so, as JSON and for people.
    shown = CliRunner().invoke(eval_cli, ["show", header.id, "--items", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert (data["metrics"]["leaked_items"], data["metrics"]["leak_checked_items"]) == (1, 3)
    by_id = {item["example_id"]: item for item in data["items"]}
    assert "app-a" in by_id["oom_killed-0"]["copied_example"]
    text = CliRunner().invoke(eval_cli, ["show", header.id])
    assert text.exit_code == 0
    assert "Answers copying a worked example (1 of 3 checked)" in text.stdout
    assert "app-a" in text.stdout


def test_honest_answers_are_not_flagged(model: FakeOpenAIServer, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=FEW_SHOT, model="fake-q4", slice=parse_slice(SLICE)))
    items = load_items(runner.engine, header.id)
    assert [item.copied_example for item in items] == [[], [], []]
    assert header.summary is not None
    assert (header.summary.leaked_items, header.summary.leak_checked_items) == (0, 3)
    assert header.summary.leak_rate == 0.0


def test_a_prompt_without_worked_examples_has_nothing_to_copy(
    model: FakeOpenAIServer, make_runner: Runner
) -> None:
    copying_oom_answers(model)
    runner = make_runner()
    header = runner.run(EvalRequest(prompt=ZERO_SHOT, model="fake-q4", slice=parse_slice(SLICE)))
    assert [item.copied_example for item in load_items(runner.engine, header.id)] == [[], [], []]
    assert header.summary is not None
    assert header.summary.leaked_items == 0


def test_the_baseline_is_not_checked(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(SLICE)))
    assert all(item.copied_example is None for item in load_items(runner.engine, header.id))
    assert header.summary is not None
    assert (header.summary.leaked_items, header.summary.leak_checked_items, header.summary.leak_rate) == (
        0,
        0,
        0.0,
    )
