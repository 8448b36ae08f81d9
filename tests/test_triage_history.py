"""Past triage runs read back: a light list, and one run with its result, evidence and lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.errors import InputError
from app.store.db import get_engine, session_scope
from app.store.tables import TriageRunRow
from app.triage_history import list_runs, load_run
from tests.golden.test_labels import LINES, add_triage_run


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """A migrated SQLite store (its datetimes come back naive, which the reader must handle)."""
    return get_engine(f"sqlite:///{tmp_path / 'store.db'}")


def test_runs_are_listed_newest_first_without_their_logs(engine: Engine) -> None:
    first, second = add_triage_run(engine), add_triage_run(engine, root_cause="probe_failure")
    with session_scope(engine) as session:
        for run_id, age in ((first, 10), (second, 1)):
            row = session.get(TriageRunRow, run_id)
            assert row is not None
            row.created_at = datetime.now(UTC) - timedelta(minutes=age)
            row.total_ms = 6200.0

    heads = list_runs(engine)
    assert [head.run_id for head in heads] == [second, first]
    head = heads[0]
    assert (head.namespace, head.status, head.root_cause, head.source) == (
        "shop",
        "ok",
        "probe_failure",
        "demo",
    )
    assert head.prompt == "rca-evidence-first@000000000000"
    assert head.created_at.tzinfo is not None
    assert head.window_end - head.window_start == timedelta(minutes=5)
    assert list_runs(engine, limit=1) == heads[:1]


def test_a_run_opens_with_its_result_evidence_and_lines(engine: Engine) -> None:
    run_id = add_triage_run(engine)
    stored = load_run(engine, run_id)
    result = stored.result
    assert (result.run_id, result.status, result.root_cause, result.confidence) == (
        run_id,
        "ok",
        "oom_killed",
        0.7,
    )
    assert result.summary == "the JVM ran out of memory"
    assert [(e.number, e.entry_indices) for e in result.evidence] == [(2, [1])]
    assert [entry.line for entry in stored.entries] == list(LINES)
    assert stored.entries[1].labels == {"namespace": "shop", "pod": "api-7d9f"}
    assert result.window_start.tzinfo is not None
    assert stored.queued_for_labeling
    assert stored.source == "demo"


def test_malformed_stored_parts_are_left_out_not_fatal(engine: Engine) -> None:
    run_id = add_triage_run(engine)
    with session_scope(engine) as session:
        row = session.get(TriageRunRow, run_id)
        assert row is not None
        assert row.result is not None
        row.result = {**row.result, "evidence": [{"number": "two"}, *row.result["evidence"]]}
        row.logs = [{"ts": "yesterday", "line": "x"}, *row.logs]
        row.budget = {"kept_lines": "many"}
    stored = load_run(engine, run_id)
    assert [e.number for e in stored.result.evidence] == [2]
    assert len(stored.entries) == len(LINES)
    assert stored.result.budget == ""


def test_an_unknown_run_is_an_input_error(engine: Engine) -> None:
    with pytest.raises(InputError, match="no triage run 'nope'"):
        load_run(engine, "nope")
