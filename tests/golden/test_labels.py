"""The golden set in the store: idempotent import, deterministic export, labels with history, the queue.

Every test runs on SQLite and on a real PostgreSQL server (the postgres fixture).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from app.errors import InputError, StoreError
from app.golden import labels as label_store
from app.golden import queue as label_queue
from app.golden.agreement import ADJUDICATOR, Disagreement
from app.golden.jsonl import dump_jsonl, read_jsonl, write_jsonl
from app.golden.schema import GoldenExample
from app.logs.models import datetime_to_ns, format_rfc3339_ns
from app.store.db import get_engine, session_scope
from app.store.tables import GoldenExampleRow, LabelHistoryRow, LabelRow, TriageRunRow
from tests.golden import example_data

LINES = (
    "level=info msg=started",
    "Memory cgroup out of memory: Killed process 4242 (java)",
    'reason=BackOff msg="Back-off restarting failed container"',
    "level=info msg=ready",
)


def make_example(example_id: str, root_cause: str = "oom_killed", **extra: Any) -> GoldenExample:
    """A valid four-line example."""
    return GoldenExample.model_validate(example_data(example_id, root_cause, lines=LINES, **extra))


def add_triage_run(
    engine: Engine, *, root_cause: str = "oom_killed", lines: tuple[str, ...] = LINES, queued: bool = True
) -> str:
    """A stored triage run (as the Triage page stores one) citing line 1, sent to labeling; returns its id."""
    run_id = str(uuid.uuid4())
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    logs = [
        {
            "ts": format_rfc3339_ns(datetime_to_ns(start + timedelta(seconds=i + 1))),
            "labels": {"namespace": "shop", "pod": "api-7d9f"},
            "line": line,
        }
        for i, line in enumerate(lines)
    ]
    row = TriageRunRow(
        id=run_id,
        status="ok",
        source="demo",
        namespace="shop",
        query='{namespace="shop"}',
        window_start=start,
        window_end=start + timedelta(minutes=5),
        log_lines=len(logs),
        logs=logs,
        prompt_name="rca-evidence-first",
        prompt_sha256="0" * 64,
        model="tiny-q4_k_m",
        result={
            "root_cause": root_cause,
            "confidence": 0.7,
            "summary": "the JVM ran out of memory",
            "evidence": [{"number": 2, "text": lines[1], "entry_indices": [1]}],
        },
        root_cause=root_cause,
        queued_for_labeling=queued,
    )
    with session_scope(engine) as session:
        session.add(row)
    return run_id


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = get_engine(url)
    yield engine
    engine.dispose()


def history_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(LabelHistoryRow)) or 0


# --- import and export ---------------------------------------------------------------------------------


def test_import_is_idempotent_by_id(engine: Engine) -> None:
    first = label_store.import_examples(engine, [make_example("a"), make_example("b")])
    assert (first.added, first.updated, first.unchanged) == (2, 0, 0)

    again = label_store.import_examples(engine, [make_example("a"), make_example("b")])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)

    changed = label_store.import_examples(
        engine, [make_example("a", "healthy"), make_example("b"), make_example("c")]
    )
    assert (changed.added, changed.updated, changed.unchanged) == (1, 1, 1)
    exported = {example.id: example for example in label_store.export_examples(engine)}
    assert exported["a"].label.root_cause == "healthy"
    assert sorted(exported) == ["a", "b", "c"]


def test_an_import_repeating_an_id_is_refused_whole(engine: Engine) -> None:
    with pytest.raises(InputError, match="duplicate id 'a'"):
        label_store.import_examples(engine, [make_example("a"), make_example("b"), make_example("a")])
    assert label_store.export_examples(engine) == []


def test_export_round_trips_byte_identically_with_every_extra_field(engine: Engine, tmp_path: Path) -> None:
    data = example_data(
        "team-b/0002", "dns_resolution_failure", lines=LINES, ticket={"key": "OPS-17"}, weight=1.5
    )
    data["window"]["step"] = "1m"
    data["logs"][0]["stream"] = "stderr"
    data["logs"][1]["line"] = "重试 3/5 \u2028 ✗ 🚨 <b>not html</b>"
    data["label"]["confidence_by_labeler"] = 0.9
    data["label"]["labeled_at"] = "2026-02-01T10:00:00+01:00"
    label_store.import_examples(engine, [GoldenExample.model_validate(data), make_example("a")])

    write_jsonl(tmp_path / "first.jsonl", label_store.export_examples(engine))
    again = get_engine(f"sqlite:///{tmp_path / 'second.db'}")
    report = label_store.import_examples(again, read_jsonl(tmp_path / "first.jsonl"))
    assert report.added == 2
    write_jsonl(tmp_path / "second.jsonl", label_store.export_examples(again))

    first = (tmp_path / "first.jsonl").read_bytes()
    assert (tmp_path / "second.jsonl").read_bytes() == first
    assert (
        dump_jsonl(label_store.export_examples(engine)).encode() == first
    )  # deterministic on the same store
    assert (
        label_store.export_examples(engine)[1].model_dump(mode="json") == data
    )  # nothing lost or reformatted
    assert label_store.import_examples(engine, read_jsonl(tmp_path / "first.jsonl")).unchanged == 2


# --- labels -------------------------------------------------------------------------------------------------


def test_every_save_appends_a_revision_and_upserts_the_label(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a")])
    one = label_store.save_label(engine, "a", "alice", "probe_failure", [2, 0], "warning", "probes fail")
    two = label_store.save_label(engine, "a", " alice ", "oom_killed", [1, 1], "critical", "OOM")
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "java OOM")

    assert (one.revision, two.revision) == (1, 2)
    assert two.evidence == [1]  # sorted and de-duplicated
    current = label_store.labels_for(engine, "a")
    assert [(label.labeler, label.revision, label.root_cause) for label in current] == [
        ("alice", 2, "oom_killed"),
        ("bob", 1, "oom_killed"),
    ]
    history = label_store.label_history(engine, "a")
    assert [(label.labeler, label.revision, label.root_cause, label.evidence) for label in history] == [
        ("alice", 1, "probe_failure", [0, 2]),
        ("alice", 2, "oom_killed", [1]),
        ("bob", 1, "oom_killed", [1]),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"root_cause": "gremlins"}, "unknown root cause 'gremlins'"),
        ({"severity": "meh"}, "unknown severity 'meh'"),
        ({"evidence": [1, 4]}, r"evidence line\(s\) \[4\] are not in this window of 4 lines"),
        ({"evidence": [-1]}, r"evidence line\(s\) \[-1\]"),
        ({"evidence": []}, "needs at least one evidence line"),
        ({"labeler": "  "}, "a labeler name is needed"),
        ({"labeler": ADJUDICATOR}, "reserved for adjudications"),
        ({"example_id": "nope"}, "no golden example 'nope'"),
    ],
)
def test_a_label_is_validated_before_anything_is_saved(
    engine: Engine, kwargs: dict[str, Any], message: str
) -> None:
    label_store.import_examples(engine, [make_example("a")])
    args: dict[str, Any] = {
        "example_id": "a",
        "labeler": "alice",
        "root_cause": "oom_killed",
        "evidence": [1],
        "severity": "critical",
        "summary": "",
    } | kwargs
    with pytest.raises(InputError, match=message):
        label_store.save_label(engine, **args)
    assert history_count(engine) == 0


def test_healthy_needs_no_evidence(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a", "healthy", evidence=())])
    assert label_store.save_label(engine, "a", "alice", "healthy", [], "info", "all fine").evidence == []


# --- adjudication and the exported label -------------------------------------------------------------------


def exported_label(engine: Engine, example_id: str) -> dict[str, Any]:
    """The label the export gives an example (the example must be exported)."""
    labels = {example.id: example.label.model_dump() for example in label_store.export_examples(engine)}
    assert example_id in labels, f"{example_id} is not exported"
    return labels[example_id]


def test_agreeing_labelers_export_the_first_labelers_label(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a", "healthy", evidence=())])
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "bob's reading")
    label_store.save_label(engine, "a", "alice", "oom_killed", [1, 2], "warning", "alice's reading")
    label_store.save_label(engine, "a", "bob", "oom_killed", [1, 3], "critical", "bob, revised")

    label = exported_label(engine, "a")
    assert (label["root_cause"], label["labeler"], label["summary"], label["evidence"]) == (
        "oom_killed",
        "bob",
        "bob, revised",
        [1, 3],
    )


def test_a_disputed_example_keeps_its_earlier_label_until_adjudicated(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a", "probe_failure")])
    label_store.save_label(engine, "a", "alice", "oom_killed", [1], "critical", "")
    label_store.save_label(engine, "a", "bob", "crash_config_error", [0], "critical", "")

    assert label_store.disagreements(engine) == [
        Disagreement("a", {"alice": "oom_killed", "bob": "crash_config_error"})
    ]
    assert exported_label(engine, "a")["root_cause"] == "probe_failure"

    settled = label_store.adjudicate(
        engine,
        "a",
        label_store.LabelChoice(root_cause="oom_killed", evidence=[1], severity="critical", summary="OOM"),
        adjudicator="carol",
    )
    assert (settled.labeler, settled.adjudicated_by) == (ADJUDICATOR, "carol")
    assert label_store.disagreements(engine) == []
    label = exported_label(engine, "a")
    assert (label["root_cause"], label["labeler"], label["summary"]) == ("oom_killed", "carol", "OOM")
    # A later labeler does not overturn an adjudication.
    label_store.save_label(engine, "a", "dave", "healthy", [], "info", "")
    assert exported_label(engine, "a")["root_cause"] == "oom_killed"


def test_a_disputed_window_without_a_label_is_left_out_with_a_warning(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = add_triage_run(engine)
    label_queue.labeling_queue(engine, "alice", blind=True)  # turns the run into a golden example
    example_id = f"run-{run_id}"
    label_store.save_label(engine, example_id, "alice", "oom_killed", [1], "critical", "")
    label_store.save_label(engine, example_id, "bob", "probe_failure", [2], "warning", "")

    report = label_store.export_report(engine)
    assert report.examples == []
    assert [(item.example_id, item.reason) for item in report.left_out] == [(example_id, "disputed")]
    assert label_store.export_examples(engine) == []
    assert f"leaves out {example_id} (disputed)" in caplog.text


# --- the labeling queue --------------------------------------------------------------------------------------


def test_triage_runs_sent_to_labeling_join_the_queue_with_the_models_answer(engine: Engine) -> None:
    run_id = add_triage_run(engine)
    add_triage_run(engine, queued=False)

    shown = label_queue.labeling_queue(engine, "alice", blind=False)
    assert [(item.window.example_id, item.reason) for item in shown] == [(f"run-{run_id}", "triage_run")]
    item = shown[0]
    assert [log.line for log in item.window.logs] == list(LINES)
    assert item.window.source == "labeled"
    assert item.suggestion is not None
    assert (item.suggestion.root_cause, item.suggestion.evidence, item.suggestion.model) == (
        "oom_killed",
        [1],
        "tiny-q4_k_m",
    )

    blind = label_queue.labeling_queue(engine, "alice", blind=True)
    assert blind[0].suggestion is None
    with session_scope(engine) as session:  # opening the queue twice adds the run once
        assert session.scalar(select(func.count()).select_from(GoldenExampleRow)) == 1

    label_store.save_label(engine, f"run-{run_id}", "alice", "oom_killed", [1], "critical", "OOM")
    labeled = label_store.export_examples(engine)
    assert [(e.id, e.source, e.label.labeler, e.label.evidence) for e in labeled] == [
        (f"run-{run_id}", "labeled", "alice", [1])
    ]


def test_the_queue_asks_for_second_opinions_and_tie_breaks_but_never_twice(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example(name) for name in ("done", "one", "split", "settled")])
    run_id = add_triage_run(engine)
    label_store.save_label(engine, "one", "bob", "oom_killed", [1], "critical", "bob says OOM")
    for labeler, cause in (("bob", "oom_killed"), ("carol", "oom_killed")):
        label_store.save_label(engine, "done", labeler, cause, [1], "critical", "")
    for labeler, cause in (("bob", "oom_killed"), ("carol", "probe_failure")):
        label_store.save_label(engine, "split", labeler, cause, [1], "critical", "")
        label_store.save_label(engine, "settled", labeler, cause, [1], "critical", "")
    label_store.adjudicate(
        engine,
        "settled",
        label_store.LabelChoice(root_cause="oom_killed", evidence=[1], severity="critical"),
        adjudicator="dana",
    )

    queue = label_queue.labeling_queue(engine, "alice", blind=False)
    assert [(item.window.example_id, item.reason) for item in queue] == [
        ("split", "disputed"),
        ("one", "second_opinion"),
        (f"run-{run_id}", "triage_run"),
    ]
    second = queue[1]
    assert [(label.labeler, label.summary) for label in second.other_labels] == [("bob", "bob says OOM")]
    assert second.existing_label is not None

    blind = label_queue.labeling_queue(engine, "alice", blind=True)
    assert all(not item.other_labels and item.existing_label is None for item in blind)

    assert [item.window.example_id for item in label_queue.labeling_queue(engine, "bob", blind=True)] == [
        f"run-{run_id}"
    ]
    label_store.save_label(engine, "one", "alice", "oom_killed", [1], "critical", "")
    assert "one" not in [
        item.window.example_id for item in label_queue.labeling_queue(engine, "alice", blind=True)
    ]
    assert "one" not in [
        item.window.example_id for item in label_queue.labeling_queue(engine, "erin", blind=True)
    ]
    assert len(label_queue.labeling_queue(engine, "erin", blind=True, limit=1)) == 1


def test_label_window_shows_one_examples_logs(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a")])
    assert [log.line for log in label_queue.label_window(engine, "a").logs] == list(LINES)
    with pytest.raises(InputError, match="no golden example 'b'"):
        label_queue.label_window(engine, "b")


# --- retries ---------------------------------------------------------------------------------------------------


def label_row(labeler: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "example_id": "a",
        "labeler": labeler,
        "root_cause": "oom_killed",
        "evidence": [1],
        "severity": "critical",
        "summary": "",
        "revision": 1,
        "created_at": now,
        "updated_at": now,
    }


def test_a_transaction_that_loses_a_race_is_retried_whole(engine: Engine) -> None:
    attempts: list[int] = []

    def work(conn: Connection) -> int:
        attempts.append(len(attempts) + 1)
        conn.execute(insert(LabelRow).values(label_row("alice")))
        if len(attempts) == 1:  # as if another labeler had inserted the same row first
            conn.execute(insert(LabelRow).values(label_row("alice")))
        return len(attempts)

    assert label_store.run_with_retries(engine, work, "save") == 2
    assert [label.labeler for label in label_store.labels_for(engine, "a")] == ["alice"]


def test_a_real_error_is_not_retried_and_names_what_failed(engine: Engine) -> None:
    attempts: list[int] = []

    def work(conn: Connection) -> None:
        attempts.append(1)
        conn.execute(insert(LabelRow).values(label_row("alice") | {"root_cause": None}))

    with pytest.raises(StoreError, match="could not save the label: IntegrityError"):
        label_store.run_with_retries(engine, work, "save the label")
    assert attempts == [1]


# --- stale labels ----------------------------------------------------------------------------------------


def test_reimporting_changed_lines_marks_the_labels_they_moved_stale_and_queues_them_again(
    engine: Engine,
) -> None:
    label_store.import_examples(engine, [make_example("a")])
    label_store.save_label(engine, "a", "alice", "oom_killed", [1], "critical", "OOM")
    label_store.save_label(engine, "a", "bob", "oom_killed", [1, 3], "critical", "OOM, then ready")
    changed = (*LINES[:3], "level=info msg=ready after 3 restarts")  # line 3 is another line now

    report = label_store.import_examples(
        engine, [GoldenExample.model_validate(example_data("a", lines=changed))]
    )

    assert (report.updated, report.stale_labels) == (1, 1)
    assert {label.labeler: label.stale for label in label_store.labels_for(engine, "a")} == {
        "alice": False,
        "bob": True,
    }
    [item] = label_queue.labeling_queue(engine, "bob", blind=True)
    assert (item.window.example_id, item.reason) == ("a", "stale")
    assert item.stale_label is not None
    assert item.stale_label.evidence == [1, 3]
    assert item.window.logs[3].line == changed[3]
    assert label_queue.labeling_queue(engine, "alice", blind=True) == []
    # A stale label no longer counts: alice's is the only answer, so nothing is disputed.
    [exported] = label_store.export_examples(engine)
    assert exported.label is not None
    assert exported.label.labeler == "alice"

    saved = label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "checked again")

    assert saved.revision == 2
    assert not any(label.stale for label in label_store.labels_for(engine, "a"))
    assert label_queue.labeling_queue(engine, "bob", blind=True) == []
    again = label_store.import_examples(
        engine, [GoldenExample.model_validate(example_data("a", lines=changed))]
    )
    assert (again.unchanged, again.stale_labels) == (1, 0)


def test_evidence_past_the_end_of_a_shorter_window_is_stale_and_unchanged_lines_are_not() -> None:
    old = [{"line": "a"}, {"line": "b"}, {"line": "c"}]

    assert label_store.evidence_moved([2], old, old[:2])
    assert label_store.evidence_moved([0], old, [{"line": "x"}, *old[1:]])
    assert not label_store.evidence_moved([0, 1], old, [*old[:2], {"line": "changed"}])
    assert not label_store.evidence_moved([], old, [])
