"""The golden set in the store: examples, labels with their history, the labeling queue and adjudication.

Every save of a label upserts the one ``labels`` row of (example, labeler), raising its revision by one,
and appends that revision to ``label_history``. The upsert is one ``INSERT ... ON CONFLICT DO UPDATE``
statement on the unique constraint, so concurrent saves serialize on the row; a transaction that still
loses a race (unique violation, serialization failure, deadlock, SQLite busy) is retried whole.

The exported label of an example follows ``agreement.resolve``: an adjudication wins, else the labelers'
common answer, else (disputed or never labeled here) the label the example was imported with, if any.
Examples without any of these are left out of the export with a warning.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.errors import InputError, StoreError
from app.golden.agreement import ADJUDICATOR, Disagreement, find_disagreements, resolve
from app.golden.schema import (
    GoldenExample,
    GoldenLabel,
    GoldenLog,
    GoldenWindow,
    Severity,
    describe_validation_error,
)
from app.store.db import session_scope
from app.store.tables import GoldenExampleRow, LabelHistoryRow, LabelRow, TriageRunRow
from app.taxonomy import ROOT_CAUSES

log = logging.getLogger(__name__)

SEVERITIES: tuple[str, ...] = get_args(Severity)
MAX_ATTEMPTS = 12
MAX_LABELER_CHARS = 200
TRIAGE_RUN_PREFIX = "run-"
# Window fields other than start/end are kept in ``extra`` under this key (``window`` itself can never
# be an unknown top-level field, so it cannot clash).
WINDOW_EXTRA_KEY = "window"
_CHUNK = 500

T = TypeVar("T")

QueueReason = Literal["disputed", "second_opinion", "triage_run", "unlabeled"]
QUEUE_ORDER: tuple[QueueReason, ...] = ("disputed", "second_opinion", "triage_run", "unlabeled")


class ImportReport(BaseModel):
    """How many imported examples were new, changed or the same as stored."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


class LabelRecord(BaseModel):
    """One labeler's label of one example at one revision."""

    example_id: str
    labeler: str
    revision: int
    root_cause: str
    evidence: list[int]
    severity: str
    summary: str
    saved_at: datetime
    adjudicated_by: str | None = Field(default=None, description="Who adjudicated (labeler 'adjudicator').")


class LabelChoice(BaseModel):
    """What a label says, before it is saved: root cause, evidence lines, severity and summary."""

    root_cause: str
    evidence: list[int] = Field(default_factory=list)
    severity: str
    summary: str = ""


class Suggestion(BaseModel):
    """The model's answer for a window sent from the Triage page, shown to labelers as a hint."""

    model: str
    prompt: str
    root_cause: str | None
    confidence: float | None
    evidence: list[int] = Field(description="0-based indices into the window's logs.")
    summary: str


class LabelWindow(BaseModel):
    """The part of a golden example a labeler looks at: where the logs come from and the lines."""

    example_id: str
    source: str
    namespace: str
    window_start: str
    window_end: str
    logs: list[GoldenLog]


class QueueItem(BaseModel):
    """A window waiting for this labeler, why it waits, and (unless blind) what others said."""

    window: LabelWindow
    reason: QueueReason
    suggestion: Suggestion | None = None
    other_labels: list[LabelRecord] = Field(default_factory=list)
    existing_label: GoldenLabel | None = None


class LeftOut(BaseModel):
    """An example the export leaves out, and why."""

    example_id: str
    reason: Literal["disputed", "unlabeled", "invalid"]
    detail: str


class ExportReport(BaseModel):
    """The exported examples (sorted by id) and the examples left out."""

    examples: list[GoldenExample]
    left_out: list[LeftOut] = Field(default_factory=list)


# --- pure pieces ---------------------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    """An instant as RFC3339 UTC text with microseconds; naive values (SQLite) are taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def example_values(example: GoldenExample) -> dict[str, Any]:
    """The golden_examples columns of an example (without id and bookkeeping)."""
    data = example.model_dump(mode="json")
    window = data.pop("window")
    extra = {
        key: value for key, value in data.items() if key not in {"id", "source", "namespace", "logs", "label"}
    }
    start, end = window.pop("start"), window.pop("end")
    if window:
        extra[WINDOW_EXTRA_KEY] = window
    return {
        "source": data["source"],
        "namespace": data["namespace"],
        "window_start": start,
        "window_end": end,
        "logs": data["logs"],
        "label": data["label"],
        "extra": extra,
        "content_hash": example.content_hash(),
    }


def example_from_row(row: GoldenExampleRow, label: dict[str, Any] | None) -> GoldenExample:
    """The GoldenExample a stored row describes, with ``label``; raises pydantic's ValidationError."""
    extra = dict(row.extra or {})
    window_extra = extra.pop(WINDOW_EXTRA_KEY, {})
    data = {
        **extra,
        "id": row.id,
        "source": row.source,
        "namespace": row.namespace,
        "window": {**window_extra, "start": row.window_start, "end": row.window_end},
        "logs": row.logs,
        "label": label,
    }
    return GoldenExample.model_validate(data)


def golden_label(record: LabelRecord) -> dict[str, Any]:
    """A stored label as the golden file's label; an adjudication is credited to who adjudicated."""
    return {
        "root_cause": record.root_cause,
        "evidence": list(record.evidence),
        "severity": record.severity,
        "summary": record.summary,
        "labeler": record.adjudicated_by or record.labeler,
        "labeled_at": rfc3339(record.saved_at),
    }


def _fingerprint(values: dict[str, Any]) -> str:
    content = {
        key: values[key]
        for key in ("source", "namespace", "window_start", "window_end", "logs", "label", "extra")
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def clean_labeler(labeler: str) -> str:
    """A labeler name as stored: trimmed, not empty, not too long, not the reserved adjudicator."""
    name = " ".join(str(labeler).split())
    if not name:
        raise InputError("a labeler name is needed", hint="enter your name on the Label page")
    if len(name) > MAX_LABELER_CHARS:
        raise InputError(f"the labeler name is longer than {MAX_LABELER_CHARS} characters")
    if name == ADJUDICATOR:
        raise InputError(f"{ADJUDICATOR!r} is reserved for adjudications", hint="label under your own name")
    return name


def check_choice(choice: LabelChoice, log_count: int) -> LabelChoice:
    """The choice with evidence sorted and de-duplicated, or InputError saying what is wrong."""
    if choice.root_cause not in ROOT_CAUSES:
        raise InputError(
            f"unknown root cause {choice.root_cause!r}", hint=f"pick one of: {', '.join(ROOT_CAUSES)}"
        )
    if choice.severity not in SEVERITIES:
        raise InputError(
            f"unknown severity {choice.severity!r}", hint=f"pick one of: {', '.join(SEVERITIES)}"
        )
    evidence = sorted(set(choice.evidence))
    outside = [index for index in evidence if not 0 <= index < log_count]
    if outside:
        raise InputError(
            f"evidence line(s) {outside} are not in this window of {log_count} lines "
            f"(valid indices are 0..{log_count - 1})"
        )
    if choice.root_cause != "healthy" and not evidence:
        raise InputError(
            f"root cause {choice.root_cause} needs at least one evidence line",
            hint="select the log lines that prove it",
        )
    return choice.model_copy(update={"evidence": evidence})


# --- transactions that may lose a race ---------------------------------------------------------------


def _is_transient(exc: DBAPIError) -> bool:
    """A race another attempt can win: unique violation, serialization failure, deadlock, busy SQLite."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in {"23505", "40001", "40P01"}:
        return True
    text = str(exc.orig).lower()
    if isinstance(exc, IntegrityError):
        return "unique constraint failed" in text
    return isinstance(exc, OperationalError) and ("locked" in text or "busy" in text)


def run_with_retries(engine: Engine, work: Callable[[Connection], T], what: str) -> T:
    """Run ``work`` in one transaction, retrying the whole transaction when it loses a race."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt == MAX_ATTEMPTS or not _is_transient(exc):
                raise StoreError(f"could not {what}: {exc.__class__.__name__}: {exc.orig}") from None
            log.debug("retrying %s (attempt %d) after %s", what, attempt, exc.orig)
            # Jittered backoff so the racers do not collide again in lockstep.
            time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 7)))
        except SQLAlchemyError as exc:
            raise StoreError(f"could not {what}: {exc.__class__.__name__}: {exc}") from None
    raise AssertionError("unreachable")


def _dialect_insert(conn: Connection) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise StoreError(f"the golden set needs SQLite or PostgreSQL, not {name}")


# --- examples ------------------------------------------------------------------------------------------


def import_examples(engine: Engine, examples: Iterable[GoldenExample]) -> ImportReport:
    """Store examples by id in one transaction: new ones added, changed ones updated, the same left alone."""
    incoming = list(examples)
    seen: set[str] = set()
    for example in incoming:
        if example.id in seen:
            raise InputError(f"duplicate id {example.id!r} in the examples being imported")
        seen.add(example.id)

    def work(conn: Connection) -> ImportReport:
        report = ImportReport()
        stored: dict[str, dict[str, Any]] = {}
        ids = [example.id for example in incoming]
        for start in range(0, len(ids), _CHUNK):
            query = select(GoldenExampleRow).where(GoldenExampleRow.id.in_(ids[start : start + _CHUNK]))
            for row in conn.execute(query).mappings():
                stored[row["id"]] = dict(row)
        now = datetime.now(UTC)
        for example in incoming:
            values = example_values(example)
            current = stored.get(example.id)
            if current is None:
                conn.execute(
                    _dialect_insert(conn)(GoldenExampleRow).values(
                        id=example.id, **values, created_at=now, updated_at=now, needs_second_opinion=False
                    )
                )
                report.added += 1
            elif _fingerprint(current) == _fingerprint(values):
                report.unchanged += 1
            else:
                conn.execute(
                    update(GoldenExampleRow)
                    .where(GoldenExampleRow.id == example.id)
                    .values(**values, updated_at=now)
                )
                report.updated += 1
        return report

    return run_with_retries(engine, work, "import the golden examples")


def export_report(engine: Engine) -> ExportReport:
    """Every example with its decided label (sorted by id), and the examples that have none."""
    with session_scope(engine) as session:
        rows = list(session.scalars(select(GoldenExampleRow).order_by(GoldenExampleRow.id)))
        labels = _labels_by_example(session.connection())
    examples: list[GoldenExample] = []
    left_out: list[LeftOut] = []
    for row in rows:
        resolution = resolve(labels.get(row.id, []))
        label = golden_label(resolution.label) if resolution.label is not None else row.label
        if label is None:
            reason: Literal["disputed", "unlabeled"] = (
                "disputed" if resolution.status == "disputed" else "unlabeled"
            )
            detail = (
                "labelers disagree and it has no earlier label; adjudicate it"
                if reason == "disputed"
                else "nobody has labeled it yet"
            )
            left_out.append(LeftOut(example_id=row.id, reason=reason, detail=detail))
            continue
        try:
            examples.append(example_from_row(row, label))
        except ValidationError as exc:
            left_out.append(
                LeftOut(example_id=row.id, reason="invalid", detail=describe_validation_error(exc))
            )
    return ExportReport(examples=examples, left_out=left_out)


def export_examples(engine: Engine) -> list[GoldenExample]:
    """Every example with its decided label, sorted by id; examples without one are logged and left out."""
    report = export_report(engine)
    for item in report.left_out:
        log.warning("golden export leaves out %s (%s): %s", item.example_id, item.reason, item.detail)
    return report.examples


# --- labels ----------------------------------------------------------------------------------------------


def _record(row: Any, saved_at: datetime) -> LabelRecord:
    """A labels or label_history row as a LabelRecord."""
    return LabelRecord(
        example_id=row.example_id,
        labeler=row.labeler,
        revision=row.revision,
        root_cause=row.root_cause,
        evidence=list(row.evidence or []),
        severity=row.severity,
        summary=row.summary,
        saved_at=saved_at,
        adjudicated_by=row.adjudicated_by,
    )


def _labels_by_example(conn: Connection, example_id: str | None = None) -> dict[str, list[LabelRecord]]:
    """Current labels per example, each list in the order the labelers first labeled it."""
    query = select(LabelRow).order_by(LabelRow.example_id, LabelRow.created_at, LabelRow.id)
    if example_id is not None:
        query = query.where(LabelRow.example_id == example_id)
    grouped: dict[str, list[LabelRecord]] = defaultdict(list)
    for row in conn.execute(query):
        grouped[row.example_id].append(_record(row, row.updated_at))
    return grouped


def _save(
    engine: Engine, example_id: str, labeler: str, choice: LabelChoice, adjudicated_by: str | None
) -> LabelRecord:
    def work(conn: Connection) -> LabelRecord:
        logs = conn.execute(
            select(GoldenExampleRow.logs).where(GoldenExampleRow.id == example_id)
        ).scalar_one_or_none()
        if logs is None:
            raise InputError(f"no golden example {example_id!r} in the store")
        checked = check_choice(choice, len(logs))
        now = datetime.now(UTC)
        fields = {
            "root_cause": checked.root_cause,
            "evidence": checked.evidence,
            "severity": checked.severity,
            "summary": checked.summary,
            "adjudicated_by": adjudicated_by,
        }
        insert = _dialect_insert(conn)
        upsert = insert(LabelRow).values(
            example_id=example_id, labeler=labeler, revision=1, created_at=now, updated_at=now, **fields
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=["example_id", "labeler"],
            set_={
                **{name: upsert.excluded[name] for name in fields},
                "updated_at": now,
                "revision": LabelRow.revision + 1,
            },
        ).returning(LabelRow.revision)
        revision = conn.execute(upsert).scalar_one()
        conn.execute(
            insert(LabelHistoryRow).values(
                example_id=example_id, labeler=labeler, revision=revision, saved_at=now, **fields
            )
        )
        return LabelRecord(example_id=example_id, labeler=labeler, revision=revision, saved_at=now, **fields)

    return run_with_retries(engine, work, f"save the label of {example_id}")


def save_label(
    engine: Engine,
    example_id: str,
    labeler: str,
    root_cause: str,
    evidence: Sequence[int],
    severity: str,
    summary: str,
) -> LabelRecord:
    """Save one labeler's label of an example (a new revision when they labeled it before)."""
    choice = LabelChoice(root_cause=root_cause, evidence=list(evidence), severity=severity, summary=summary)
    return _save(engine, example_id, clean_labeler(labeler), choice, None)


def adjudicate(engine: Engine, example_id: str, label: LabelChoice, *, adjudicator: str) -> LabelRecord:
    """Settle an example's label: saved under the reserved labeler 'adjudicator', crediting ``adjudicator``."""
    return _save(engine, example_id, ADJUDICATOR, label, clean_labeler(adjudicator))


def labels_for(engine: Engine, example_id: str) -> list[LabelRecord]:
    """The current labels of an example, in the order the labelers first labeled it."""
    with engine.connect() as conn:
        return _labels_by_example(conn, example_id).get(example_id, [])


def all_labels(engine: Engine) -> list[LabelRecord]:
    """Every current label, by example and then in the order the labelers first labeled it."""
    with engine.connect() as conn:
        return [record for records in _labels_by_example(conn).values() for record in records]


def label_history(engine: Engine, example_id: str) -> list[LabelRecord]:
    """Every revision ever saved for an example, by labeler and revision."""
    query = (
        select(LabelHistoryRow)
        .where(LabelHistoryRow.example_id == example_id)
        .order_by(LabelHistoryRow.labeler, LabelHistoryRow.revision)
    )
    with engine.connect() as conn:
        return [_record(row, row.saved_at) for row in conn.execute(query)]


def disagreements(engine: Engine) -> list[Disagreement]:
    """Examples whose labelers disagree and that nobody has adjudicated, by id."""
    return find_disagreements(all_labels(engine))


# --- the labeling queue ------------------------------------------------------------------------------------


def _triage_run_values(run: TriageRunRow) -> dict[str, Any] | None:
    """The golden_examples columns of a triage run's window (no label yet), or None when it has no lines."""
    if not run.logs:
        return None
    start, end = rfc3339(run.window_start), rfc3339(run.window_end)
    try:
        window = GoldenWindow(start=start, end=end)
        logs = [GoldenLog.model_validate(entry) for entry in run.logs]
    except ValidationError as exc:
        log.warning("triage run %s cannot be labeled: %s", run.id, describe_validation_error(exc))
        return None
    # content_hash reads only namespace, window and logs; the label comes later, from the labelers.
    probe = GoldenExample.model_construct(namespace=run.namespace, window=window, logs=logs)
    return {
        "source": "labeled",
        "namespace": run.namespace,
        "window_start": start,
        "window_end": end,
        "logs": [entry.model_dump(mode="json") for entry in logs],
        "label": None,
        "extra": {},
        "content_hash": probe.content_hash(),
        "triage_run_id": run.id,
        "needs_second_opinion": False,
    }


def sync_triage_runs(engine: Engine) -> int:
    """Turn triage runs sent to labeling into golden examples ``run-<id>``; returns how many were added."""

    def work(conn: Connection) -> int:
        queued = list(
            conn.execute(select(TriageRunRow.id).where(TriageRunRow.queued_for_labeling.is_(True))).scalars()
        )
        if not queued:
            return 0
        known = set(
            conn.execute(
                select(GoldenExampleRow.triage_run_id).where(GoldenExampleRow.triage_run_id.in_(queued))
            ).scalars()
        )
        missing = [run_id for run_id in queued if run_id not in known]
        added = 0
        now = datetime.now(UTC)
        insert = _dialect_insert(conn)
        with Session(conn) as session:
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                for run in session.scalars(select(TriageRunRow).where(TriageRunRow.id.in_(chunk))):
                    values = _triage_run_values(run)
                    if values is None:
                        continue
                    statement = insert(GoldenExampleRow).values(
                        id=f"{TRIAGE_RUN_PREFIX}{run.id}", created_at=now, updated_at=now, **values
                    )
                    # Two labelers opening the queue at once both try; the second insert does nothing.
                    added += conn.execute(statement.on_conflict_do_nothing(index_elements=["id"])).rowcount
        return added

    return run_with_retries(engine, work, "add the triage runs sent to labeling")


def _suggestion(run: TriageRunRow | None, log_count: int) -> Suggestion | None:
    if run is None or not run.result or not run.result.get("root_cause"):
        return None
    result = run.result
    indices = sorted(
        {
            index
            for line in result.get("evidence") or []
            for index in line.get("entry_indices") or []
            if 0 <= index < log_count
        }
    )
    return Suggestion(
        model=run.model,
        prompt=run.prompt_name,
        root_cause=result.get("root_cause"),
        confidence=result.get("confidence"),
        evidence=indices,
        summary=result.get("summary") or "",
    )


def queue_reason(
    labels: Sequence[LabelRecord], labeler: str, *, has_label: bool, from_triage: bool, flagged: bool
) -> QueueReason | None:
    """Why an example waits for ``labeler`` (None when it does not): disputed, second opinion or new."""
    if any(label.labeler == labeler for label in labels):
        return None
    status = resolve(labels).status
    if status == "adjudicated":
        return None
    if status == "disputed":
        return "disputed"
    if status == "single" or flagged:
        return "second_opinion"
    if status == "unlabeled" and not has_label:
        return "triage_run" if from_triage else "unlabeled"
    return None


def labeling_queue(engine: Engine, labeler: str, *, blind: bool, limit: int | None = None) -> list[QueueItem]:
    """The windows waiting for ``labeler``: disputed, needing a second opinion, from triage, unlabeled.

    Windows this labeler already labeled are left out. ``blind`` hides the model's suggestion, the
    other labelers' labels and the label an example was imported with.
    """
    name = clean_labeler(labeler)
    sync_triage_runs(engine)
    with session_scope(engine) as session:
        conn = session.connection()
        labels = _labels_by_example(conn)
        heads = conn.execute(
            select(
                GoldenExampleRow.id,
                GoldenExampleRow.label,
                GoldenExampleRow.triage_run_id,
                GoldenExampleRow.needs_second_opinion,
            )
        ).all()
        waiting: list[tuple[int, str, QueueReason]] = []
        for head in heads:
            reason = queue_reason(
                labels.get(head.id, []),
                name,
                has_label=head.label is not None,
                from_triage=head.triage_run_id is not None,
                flagged=bool(head.needs_second_opinion),
            )
            if reason is not None:
                waiting.append((QUEUE_ORDER.index(reason), head.id, reason))
        waiting.sort()
        if limit is not None:
            waiting = waiting[:limit]
        ids = [example_id for _, example_id, _ in waiting]
        rows = {
            row.id: row
            for row in session.scalars(select(GoldenExampleRow).where(GoldenExampleRow.id.in_(ids)))
        }
        run_ids = [row.triage_run_id for row in rows.values() if row.triage_run_id]
        runs = {
            run.id: run for run in session.scalars(select(TriageRunRow).where(TriageRunRow.id.in_(run_ids)))
        }
        items = []
        for _, example_id, reason in waiting:
            row = rows[example_id]
            item = QueueItem(window=_window(row), reason=reason)
            if not blind:
                item.suggestion = _suggestion(runs.get(row.triage_run_id or ""), len(item.window.logs))
                item.other_labels = labels.get(row.id, [])
                item.existing_label = _existing_label(row.label)
            items.append(item)
        return items


def _window(row: GoldenExampleRow) -> LabelWindow:
    return LabelWindow(
        example_id=row.id,
        source=row.source,
        namespace=row.namespace,
        window_start=row.window_start,
        window_end=row.window_end,
        logs=[GoldenLog.model_validate(entry) for entry in row.logs],
    )


class WindowHead(BaseModel):
    """Where an example's window comes from, without its lines."""

    example_id: str
    source: str
    namespace: str
    window_start: str
    window_end: str


def window_heads(engine: Engine, example_ids: Sequence[str]) -> dict[str, WindowHead]:
    """The heads of these examples' windows by id (unknown ids are left out); their logs are not read."""
    ids = list(dict.fromkeys(example_ids))
    heads: dict[str, WindowHead] = {}
    columns = (
        GoldenExampleRow.id,
        GoldenExampleRow.source,
        GoldenExampleRow.namespace,
        GoldenExampleRow.window_start,
        GoldenExampleRow.window_end,
    )
    with session_scope(engine) as session:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for row in session.execute(select(*columns).where(GoldenExampleRow.id.in_(chunk))):
                heads[row.id] = WindowHead(
                    example_id=row.id,
                    source=row.source,
                    namespace=row.namespace,
                    window_start=row.window_start,
                    window_end=row.window_end,
                )
    return heads


def label_window(engine: Engine, example_id: str) -> LabelWindow:
    """The logs of one stored example, for labeling or adjudicating it."""
    with session_scope(engine) as session:
        row = session.get(GoldenExampleRow, example_id)
        if row is None:
            raise InputError(f"no golden example {example_id!r} in the store")
        return _window(row)


def _existing_label(label: dict[str, Any] | None) -> GoldenLabel | None:
    if label is None:
        return None
    try:
        return GoldenLabel.model_validate(label)
    except ValidationError:
        return None
