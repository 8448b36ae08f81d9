"""One run split across the shards of a Kubernetes Indexed Job: three processes, one PostgreSQL run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest

from app.config import PROJECT_ROOT, get_settings
from tests.evals.conftest import rca_json, small_golden_set
from tests.fixtures.llama import FakeOpenAIServer

SHARDS = 3
REPEATS = 2
UNITS = len(small_golden_set()) * REPEATS


def answer(body: dict[str, Any]) -> list[str]:
    """A deterministic model: right on OOM windows, seed-dependent on refused connections, else healthy."""
    prompt = json.dumps(body["messages"])
    if "OOMKilled" in prompt:
        return [rca_json("oom_killed", [2])]
    if "connection refused" in prompt:
        return [rca_json("dependency_unavailable" if body["seed"] % 2 else "dns_resolution_failure", [2])]
    if "x509" in prompt:
        return ['{"root_cause": "solar flare"}']  # invalid output, the same every time
    return [rca_json("healthy")]


def eval_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "eval", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, json.loads(stdout) if stdout.strip() else {}, stderr


def rows(url: str, sql: LiteralString, *params: object) -> list[tuple[Any, ...]]:
    """Query the shared database from outside the processes that write it."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        return connection.execute(sql, params).fetchall()


@pytest.fixture
def shared_database(fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL set to an empty PostgreSQL database every process of the test shares."""
    monkeypatch.setenv("DATABASE_URL", fresh_postgres_url)
    get_settings.cache_clear()
    return fresh_postgres_url


@pytest.fixture
def model(
    fake_openai_server: FakeOpenAIServer, use_models_file: Callable[..., Path], golden_dir: Path
) -> FakeOpenAIServer:
    """fake-q4 answering as ``answer`` does, over the small golden set."""
    fake_openai_server.script.respond = answer
    use_models_file(fake_openai_server.base_url)
    return fake_openai_server


def test_three_shards_store_one_result_per_item_and_match_an_unsharded_run(
    model: FakeOpenAIServer, shared_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model.script.first_token_delay_s = 0.05  # long enough for the shards to overlap
    # Short leases: heartbeats run every 0.33 s, alongside the stores of results (they must not deadlock).
    monkeypatch.setenv("EVAL_CLAIM_LEASE_SECONDS", "1")
    options = ["--model", "fake-q4", "--repeat", str(REPEATS), "--no-cache", "--concurrency", "2", "--json"]
    shards = [
        eval_process("run", "--run-id", "nightly-20261207", "--shard", f"{index}/{SHARDS}", *options)
        for index in range(SHARDS)
    ]
    results = [finish(process) for process in shards]
    # Every shard waits for the last unit, and reports the finished run (3: the x509 answers are invalid).
    for code, data, stderr in results:
        assert code == 3, stderr
        assert "completed, but 4 of 52 items failed (4 invalid output)" in stderr
        assert "heartbeat failed" not in stderr
        assert (data["run"]["id"], data["run"]["status"]) == ("nightly-20261207", "completed")
    assert len(model.chat_requests()) == UNITS  # each unit sent once, over three processes
    counts = rows(
        shared_database,
        "SELECT example_id, repeat, count(*) FROM eval_items WHERE run_id = %s GROUP BY example_id, repeat",
        "nightly-20261207",
    )
    assert len(counts) == UNITS
    assert {count for _, _, count in counts} == {1}
    workers = rows(
        shared_database,
        "SELECT shard_index, shard_count, status, items FROM eval_workers WHERE run_id = %s ORDER BY shard_index",
        "nightly-20261207",
    )
    assert [(index, count, status) for index, count, status, _ in workers] == [
        (index, SHARDS, "done") for index in range(SHARDS)
    ]
    assert sum(items for *_, items in workers) == UNITS
    ((status, ended),) = rows(
        shared_database, "SELECT status, ended_at FROM eval_runs WHERE id = %s", "nightly-20261207"
    )
    assert status == "completed"
    assert ended is not None

    # The same run in one process gives the same numbers.
    code, single, stderr = finish(eval_process("run", *options))
    assert code == 3, stderr
    sharded = results[0][1]
    latency_free = {"latency", "cached_items"}
    assert {k: v for k, v in sharded["metrics"].items() if k not in latency_free} == {
        k: v for k, v in single["metrics"].items() if k not in latency_free
    }
    assert sharded["run"]["report"] == single["run"]["report"]
    assert sharded["metrics"]["items"] == UNITS
    assert sharded["run"]["report"]["agreement"]["flipped"] == [
        "dependency_unavailable-0",
        "dependency_unavailable-1",
    ]
    assert sharded["run"]["scenarios"] == 13


def test_a_shard_with_other_options_is_refused(model: FakeOpenAIServer, shared_database: str) -> None:
    code, _, stderr = finish(
        eval_process(
            "run", "--run-id", "r-9", "--shard", "0/2", "--model", "fake-q4", "--limit", "4", "--json"
        )
    )
    assert code == 0, stderr
    code, _, stderr = finish(
        eval_process(
            "run", "--run-id", "r-9", "--shard", "1/2", "--model", "fake-q4", "--limit", "5", "--json"
        )
    )
    assert code == 1
    (line,) = [line for line in stderr.splitlines() if line.strip()]
    assert line.startswith("error: run r-9 exists and runs something else")
    assert rows(shared_database, "SELECT count(*) FROM eval_items WHERE run_id = 'r-9'") == [(4,)]
