"""The run log on SQLite and PostgreSQL: claims taken once under contention, runs from before v2 readable."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, inspect, text

from app.config import get_settings
from app.evals.recorder import RunRecorder
from app.evals.runner import EvalRunner
from app.evals.runs import get_run, list_runs, load_items
from app.evals.scoring import baseline_version, items_sha256
from app.evals.spec import BASELINE_MODEL_NAME, Shard
from app.golden.jsonl import dataset_version
from app.store.db import MIGRATIONS_DIR, migrate
from tests.evals.conftest import small_golden_set

Runner = Callable[[], EvalRunner]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty database of each kind, set as DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    return url


def migrate_to(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_claims_under_contention_go_to_one_worker_each(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate(engine)
    recorder = RunRecorder(engine, lease_s=60)
    item_ids = [f"example-{n:03d}" for n in range(60)]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO eval_runs (id, created_at, status, prompt_ref, prompt_sha256, model, quantization,"
                " gguf_file, base_url, params, golden_version, slice, item_ids, repeats, concurrency,"
                " fingerprint, summary, report) VALUES ('contended', :now, 'running', 'p', 'x', 'm', 'q', '',"
                " '', '{}', 'g', '{}', :ids, 2, 1, '{}', '{}', '{}')"
            ),
            {"now": datetime.now(UTC), "ids": json.dumps(item_ids)},
        )
    recorder.ensure_claims("contended", item_ids, 2)
    recorder.ensure_claims("contended", item_ids, 2)  # idempotent
    taken: dict[str, list[tuple[str, int]]] = {}
    start = threading.Barrier(8)

    def work(index: int) -> None:
        worker = recorder.register_worker("contended", Shard(index=index, count=8))
        mine: list[tuple[str, int]] = []
        start.wait()
        while claims := recorder.claim("contended", worker, 3, Shard(index=index, count=8)):
            mine.extend((c.example_id, c.repeat) for c in claims)
        taken[worker] = mine

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [unit for units in taken.values() for unit in units]
    assert len(everything) == 120
    assert len(set(everything)) == 120  # no unit handed out twice
    assert recorder.progress("contended") == (0, 120)
    assert sum(1 for units in taken.values() if units) > 1  # the work was shared
    engine.dispose()


def test_runs_recorded_before_v2_read_back_and_resume(
    database_url: str, golden_dir: Path, make_runner: Runner
) -> None:
    engine = create_engine(database_url)
    migrate_to(engine, "0004")
    examples = small_golden_set()
    chosen = examples[:6]
    v1_fingerprint = {
        "prompt": {"ref": "baseline", "sha256": "", "requested": "rca-evidence-first@latest"},
        "model": {"name": BASELINE_MODEL_NAME, "kind": "rules"},
        "server": None,
        "server_build": "n/a",
        "golden": {
            "version": dataset_version(examples),
            "dir": str(golden_dir),
            "examples": len(examples),
            "items_sha256": items_sha256(chosen),
        },
        "use_cache": False,
        "app_version": "0.1.0",
        "git_revision": "0123456789abcdef",
        "resumes": [],
    }
    ref, digest = baseline_version()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO eval_runs (id, created_at, started_at, status, prompt_ref, prompt_sha256, model,"
                " quantization, gguf_file, base_url, params, golden_version, slice, item_ids, concurrency,"
                " fingerprint, summary) VALUES ('7f1c2d3e-0000-4000-8000-000000000001', :now, :now, 'running',"
                " :ref, :digest, :model, 'none', '', '', '{}', :version, '{\"limit\": 6}', :ids, 4, :fp, '{}')"
            ),
            {
                "now": datetime.now(UTC),
                "ref": ref,
                "digest": digest,
                "model": BASELINE_MODEL_NAME,
                "version": dataset_version(examples),
                "ids": json.dumps([e.id for e in chosen]),
                "fp": json.dumps(v1_fingerprint),
            },
        )
        connection.execute(
            text(
                "INSERT INTO eval_items (run_id, example_id, content_hash, expected, predicted, outcome,"
                " raw_output, expected_evidence, cited_evidence, cached, created_at) VALUES"
                " ('7f1c2d3e-0000-4000-8000-000000000001', :id, :hash, :cause, :cause, 'correct', '{}', '[]',"
                " '[]', false, :now)"
            ),
            {
                "id": chosen[0].id,
                "hash": chosen[0].content_hash(),
                "cause": chosen[0].label.root_cause,
                "now": datetime.now(UTC),
            },
        )
    migrate(engine)
    assert {"eval_claims", "eval_workers", "eval_item_history"} <= set(inspect(engine).get_table_names())
    runner = make_runner()
    (header,) = list_runs(runner.engine)
    assert header.fingerprint.git_revision == "0123456789abcdef"
    assert header.fingerprint.golden.items_sha256 == items_sha256(chosen)
    assert (header.repeats, header.fingerprint.spec_sha256, header.fingerprint.retries) == (1, "", [])
    (item,) = load_items(runner.engine, header.id)
    assert (item.repeat, item.scenario) == (0, None)
    finished = runner.resume(header.id[:8])
    assert finished.status == "completed"
    items = load_items(runner.engine, header.id)
    assert [i.example_id for i in items] == [e.id for e in chosen]
    assert items[0] == item  # the stored result was kept, not redone
    assert get_run(runner.engine, header.id).report is not None
    engine.dispose()


def test_the_migration_goes_down_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate(engine)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert "eval_claims" not in inspect(engine).get_table_names()
    assert "repeat" not in {c["name"] for c in inspect(engine).get_columns("eval_items")}
    migrate(engine)
    assert {u["name"] for u in inspect(engine).get_unique_constraints("eval_items")} == {
        "uq_eval_items_run_example_repeat"
    }
    engine.dispose()
