"""A run killed at any point is finished by ``eval resume`` with exactly one result per item."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from app.config import PROJECT_ROOT
from app.errors import InputError
from app.evals.recorder import Claim
from app.evals.runner import EvalRunner
from app.evals.runs import get_run, list_workers, load_history, load_items
from app.evals.spec import BASELINE_MODEL_NAME, EvalRequest, Shard, parse_slice
from app.golden.jsonl import write_jsonl
from app.store.db import session_scope
from app.store.tables import EvalWorkerRow
from tests.evals.conftest import make_example, rca_json, small_golden_set
from tests.fixtures.llama import FakeOpenAIServer

Runner = Callable[[], EvalRunner]
TOTAL = 26


def eval_command() -> list[str]:
    """``logtriage eval`` once the main CLI mounts it, else the eval CLI on its own."""
    from app.cli.main import cli

    if any(group.name == "eval" for group in cli.registered_groups):
        return [sys.executable, "-c", "from app.cli.main import main; main()", "eval"]
    return [sys.executable, "-m", "app.cli.evals"]


def run_eval(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``logtriage eval ARGS`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [*eval_command(), *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def show_json(env: dict[str, str], run_id: str) -> dict[str, Any]:
    """``eval show RUN --json`` run as a user would."""
    shown = run_eval(env, "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def summary_workers(env: dict[str, str], run_id: str) -> list[dict[str, Any]]:
    """The workers ``eval show --json`` lists for a run."""
    return show_json(env, run_id)["workers"]


def database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "logtriage.db"


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    """Read the store from outside the process that writes it (WAL lets us)."""
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # tables not created yet


def test_resume_after_kill_9_leaves_exactly_one_result_per_item(
    fake_openai_server: FakeOpenAIServer,
    use_models_file: Callable[..., Path],
    golden_dir: Path,
    tmp_path: Path,
) -> None:
    fake_openai_server.script.tokens = [rca_json("oom_killed", [2])]
    fake_openai_server.script.first_token_delay_s = 0.25  # slow enough to be killed halfway
    use_models_file(fake_openai_server.base_url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    db = database(tmp_path)
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [
            *eval_command(),
            "run",
            "--model",
            "fake-q4",
            "--prompt",
            "rca-evidence-first",
            "--concurrency",
            "2",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while stored < TOTAL // 2:
            assert process.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, "the run did not get halfway in time"
            rows = query(db, "SELECT count(*) FROM eval_items")
            stored = rows[0][0] if rows else 0
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    assert process.returncode == -signal.SIGKILL
    ((run_id, status),) = query(db, "SELECT id, status FROM eval_runs")
    assert status == "running"  # killed: nobody could say otherwise
    before = dict(query(db, "SELECT example_id, id FROM eval_items WHERE run_id = ?", run_id))
    assert TOTAL // 2 <= len(before) < TOTAL

    sent_before = len(fake_openai_server.chat_requests())
    fake_openai_server.script.first_token_delay_s = 0.0
    resumed = run_eval(env, "resume", run_id[:8], "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["run"]["id"] == run_id
    assert summary["run"]["status"] == "completed"
    assert summary["metrics"]["items"] == TOTAL
    assert len(summary["run"]["fingerprint"]["resumes"]) == 1
    assert [w["status"] for w in summary_workers(env, run_id)] == ["lost", "done"]

    rows = query(
        db, "SELECT example_id, count(*) FROM eval_items WHERE run_id = ? GROUP BY example_id", run_id
    )
    assert len(rows) == TOTAL
    assert all(count == 1 for _, count in rows)
    assert {example_id for example_id, _ in rows} == {e.id for e in small_golden_set()}
    after = dict(query(db, "SELECT example_id, id FROM eval_items WHERE run_id = ?", run_id))
    assert all(after[example_id] == row_id for example_id, row_id in before.items())  # nothing redone
    # Only the missing items went to the model (answers in flight when it died were never stored).
    assert len(fake_openai_server.chat_requests()) - sent_before == TOTAL - len(before)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def set_worker(runner: EvalRunner, worker_id: str, **values: object) -> None:
    """Change a worker's row, as if another process (or host) had written it."""
    with session_scope(runner.engine) as session:
        session.execute(update(EvalWorkerRow).where(EvalWorkerRow.id == worker_id).values(**values))


def test_resume_runs_only_missing_items(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.start(EvalRequest(model=BASELINE_MODEL_NAME))
    # What a process killed mid-run leaves: five results stored, two units still claimed by it.
    recorder = runner.recorder
    recorder.ensure_claims(header.id, header.item_ids, 1)
    worker = recorder.register_worker(header.id, None)
    set_worker(runner, worker, pid=dead_pid())
    claims = recorder.claim(header.id, worker, 7, None)
    examples = {e.id: e for e in runner.load_golden()}
    for claim in claims[:5]:
        item = runner.analyzer.baseline(examples[claim.example_id], header.id)
        assert recorder.commit(header.id, worker, claim, item, None)
    first_five = {i.example_id: i.trace_id for i in load_items(runner.engine, header.id)}
    finished = runner.resume(header.id)  # the dead process's claims are released at once, not after the lease
    assert finished.status == "completed"
    items = load_items(runner.engine, header.id)
    assert len(items) == TOTAL
    assert len({i.example_id for i in items}) == TOTAL
    assert {i.example_id: i.trace_id for i in items if i.example_id in first_five} == first_five
    statuses = {w.status for w in list_workers(runner.engine, header.id)}
    assert statuses == {"lost", "done"}


def test_resuming_a_completed_run_changes_nothing(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=4)))
    again = runner.resume(header.id)
    assert again.status == "completed"
    assert load_items(runner.engine, header.id) == load_items(runner.engine, again.id)
    assert len(again.fingerprint.resumes) == 1


def test_a_stored_item_is_never_stored_twice(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=2)))
    item = load_items(runner.engine, header.id)[0]
    # A late writer whose claim is gone (done by someone else) stores nothing.
    (worker,) = list_workers(runner.engine, header.id)
    claim = Claim(id=1, example_id=item.example_id, repeat=0, attempts=0)
    late = item.model_copy(update={"outcome": "wrong"})
    assert not runner.recorder.commit(header.id, worker.id, claim, late, None)
    items = load_items(runner.engine, header.id)
    assert len(items) == 2
    assert items[0] == item


def test_resume_refuses_when_the_golden_set_changed(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.start(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=3)))
    examples = small_golden_set()
    changed = make_example(examples[0].id, "healthy", ["all good, but different now"], [])
    write_jsonl(golden_dir / "small.jsonl", [changed, *examples[1:]])
    with pytest.raises(InputError, match="changed since it started"):
        runner.resume(header.id)
    write_jsonl(golden_dir / "small.jsonl", examples[1:])
    with pytest.raises(InputError, match="no longer in the golden set"):
        runner.resume(header.id)
    assert get_run(runner.engine, header.id).status == "running"


# --- claims: a unit goes to the model once, whoever works on the run ---------------------------------------


def test_two_resumes_of_one_run_send_each_item_once(
    fake_openai_server: FakeOpenAIServer,
    use_models_file: Callable[..., Path],
    golden_dir: Path,
    make_runner: Runner,
) -> None:
    fake_openai_server.script.tokens = [rca_json("oom_killed", [2])]
    fake_openai_server.script.first_token_delay_s = 0.1
    use_models_file(fake_openai_server.base_url)
    header = make_runner().start(EvalRequest(prompt="rca-evidence-first", model="fake-q4", concurrency=2))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    resumes = [
        subprocess.Popen(
            [*eval_command(), "resume", header.id, "--json"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=180) for process in resumes]
    for process, (stdout, stderr) in zip(resumes, outputs, strict=True):
        assert process.returncode == 0, stderr
        assert json.loads(stdout)["run"]["status"] == "completed"
    assert len(fake_openai_server.chat_requests()) == TOTAL  # not 2 x TOTAL, nor anything in between
    items = load_items(make_runner().engine, header.id)
    assert sorted(i.example_id for i in items) == sorted(e.id for e in small_golden_set())
    workers = summary_workers(env, header.id)
    assert [w["status"] for w in workers] == ["done", "done"]
    assert sum(w["items"] for w in workers) == TOTAL


def test_claims_of_a_worker_that_stopped_beating_are_taken_over(
    golden_dir: Path, make_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_CLAIM_LEASE_SECONDS", "1")
    runner = make_runner()
    header = runner.start(EvalRequest(model=BASELINE_MODEL_NAME))
    recorder = runner.recorder
    recorder.ensure_claims(header.id, header.item_ids, 1)
    # A worker in another pod (another host: its pid means nothing here) took three units and died.
    other = recorder.register_worker(header.id, Shard(index=1, count=2))
    set_worker(runner, other, host="eval-job-1-xk2p9")
    taken = recorder.claim(header.id, other, 3, Shard(index=1, count=2))
    assert len(taken) == 3
    assert len(recorder.claim(header.id, "someone-else", TOTAL, None)) == TOTAL - 3  # held ones excluded
    recorder.release(header.id, "someone-else")
    finished = runner.resume(header.id)
    assert finished.status == "completed"
    items = load_items(runner.engine, header.id)
    assert len(items) == TOTAL
    assert {claim.example_id for claim in taken} <= {item.example_id for item in items}
    # The dead worker's late answer, should it ever come, is refused: the unit is done.
    late = runner.analyzer.baseline(runner.load_golden()[0], header.id)
    assert not recorder.commit(header.id, other, taken[0], late, None)
    assert len(load_items(runner.engine, header.id)) == TOTAL


def test_retry_failed_runs_only_the_failed_items_and_keeps_their_history(
    fake_openai_server: FakeOpenAIServer,
    use_models_file: Callable[..., Path],
    golden_dir: Path,
    make_runner: Runner,
) -> None:
    # OOM windows get an answer outside the taxonomy (invalid output), the rest a valid one.
    def answer(body: dict[str, Any]) -> list[str]:
        prompt = json.dumps(body["messages"])
        return ['{"root_cause": "gremlins"}'] if "OOMKilled" in prompt else [rca_json("healthy")]

    fake_openai_server.script.respond = answer
    use_models_file(fake_openai_server.base_url)
    runner = make_runner()
    header = runner.run(EvalRequest(prompt="rca-evidence-first", model="fake-q4"))
    assert header.status == "completed"
    assert header.failures == {"invalid_output": 2}
    assert header.report is not None
    assert header.report.failed_results == 2
    sent = len(fake_openai_server.chat_requests())
    # A plain resume of a completed run changes nothing; --retry-failed asks again, past the cache.
    assert runner.resume(header.id).failures == {"invalid_output": 2}
    assert len(fake_openai_server.chat_requests()) == sent
    fake_openai_server.script.respond = None
    fake_openai_server.script.tokens = [rca_json("oom_killed", [2])]
    retried = runner.resume(header.id, retry_failed=True)
    assert len(fake_openai_server.chat_requests()) == sent + 2
    assert retried.status == "completed"
    assert retried.failures == {}
    assert retried.summary is not None
    assert retried.summary.outcomes["correct"] == 2 + 2  # the two healthy ones, the two retried ones
    assert retried.report is not None
    assert retried.report.retried == 2
    assert [r.items for r in retried.fingerprint.retries] == [2]
    history = load_history(runner.engine, header.id)
    assert [(attempt, item.outcome) for attempt, item in history] == [(0, "invalid_output")] * 2
    assert len(load_items(runner.engine, header.id)) == TOTAL
