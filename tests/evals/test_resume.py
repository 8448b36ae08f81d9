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

import pytest

from app.config import PROJECT_ROOT
from app.errors import InputError
from app.evals.runner import BASELINE_MODEL_NAME, EvalRequest, EvalRunner, get_run, load_items, parse_slice
from app.golden.jsonl import write_jsonl
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
    resumed = subprocess.run(
        [*eval_command(), "resume", run_id[:8], "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["run"]["id"] == run_id
    assert summary["run"]["status"] == "completed"
    assert summary["metrics"]["items"] == TOTAL
    assert len(summary["run"]["fingerprint"]["resumes"]) == 1

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


def test_resume_runs_only_missing_items(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.start(EvalRequest(model=BASELINE_MODEL_NAME))
    # Store a few items the way a killed process would have left them.
    examples = {e.id: e for e in runner.load_golden()}
    for example_id in header.item_ids[:5]:
        runner._commit(header.id, runner.analyze_baseline(examples[example_id], header.id), None)
    first_five = {i.example_id: i.trace_id for i in load_items(runner.engine, header.id)}
    finished = runner.resume(header.id)
    assert finished.status == "completed"
    items = load_items(runner.engine, header.id)
    assert len(items) == TOTAL
    assert len({i.example_id for i in items}) == TOTAL
    assert {i.example_id: i.trace_id for i in items if i.example_id in first_five} == first_five


def test_resuming_a_completed_run_changes_nothing(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=4)))
    again = runner.resume(header.id)
    assert again.status == "completed"
    assert load_items(runner.engine, header.id) == load_items(runner.engine, again.id)
    assert len(again.fingerprint["resumes"]) == 1


def test_a_stored_item_is_never_stored_twice(golden_dir: Path, make_runner: Runner) -> None:
    runner = make_runner()
    header = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=2)))
    item = load_items(runner.engine, header.id)[0]
    runner._commit(header.id, item.model_copy(update={"outcome": "wrong"}), None)  # a late duplicate
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
