"""The golden set in the store: examples, labels with their history, the labeling queue and adjudication.

Every save of a label upserts the one ``labels`` row of (example, labeler), raising its revision by one,
and appends that revision to ``label_history``. The upsert is one ``INSERT ... ON CONFLICT DO UPDATE``
statement on the unique constraint, so concurrent saves serialize on the row; a transaction that still
loses a race (unique violation, serialization failure, deadlock, SQLite busy) is retried whole
(``app/store/retry.py``).

A re-import that changes an example's lines marks the labels whose evidence indices now point at other
lines stale: they stop counting (agreement, export) and the example goes back into those labelers'
queues until they save it again.

The exported label of an example follows ``agreement.resolve``: an adjudication wins, else the labelers'
common answer, else (disputed or never labeled here) the label the example was imported with, if any.
Examples without any of these are left out of the export with a warning.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection, Engine, select, update

from app.errors import InputError
from app.golden.agreement import ADJUDICATOR, Disagreement, find_disagreements, resolve
from app.golden.schema import (
    GoldenExample,
    Severity,
    describe_validation_error,
)
from app.store.db import session_scope
from app.store.retry import run_in_transaction
from app.store.sql import chunks, dialect_insert
from app.store.tables import GoldenExampleRow, LabelHistoryRow, LabelRow
from app.taxonomy import ROOT_CAUSES

log = logging.getLogger(__name__)

SEVERITIES: tuple[str, ...] = get_args(Severity)
MAX_LABELER_CHARS = 200
# Window fields other than start/end are kept in ``extra`` under this key (``window`` itself can never
# be an unknown top-level field, so it cannot clash).
WINDOW_EXTRA_KEY = "window"

T = TypeVar("T")


class ImportReport(BaseModel):
    """How many imported examples were new, changed or the same as stored, and how many labels went stale."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    stale_labels: int = Field(default=0, description="Labels whose evidence lines the import changed.")


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
    stale: bool = Field(default=False, description="A re-import changed the lines its evidence points at.")


class LabelChoice(BaseModel):
    """What a label says, before it is saved: root cause, evidence lines, severity and summary."""

    root_cause: str
    evidence: list[int] = Field(default_factory=list)
    severity: str
    summary: str = ""


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


def evidence_moved(evidence: Sequence[int], old_logs: Sequence[Any], new_logs: Sequence[Any]) -> bool:
    """Whether any evidence index points at another line (or past the end) in ``new_logs`` than in ``old_logs``."""
    return any(
        not 0 <= index < len(new_logs) or index >= len(old_logs) or old_logs[index] != new_logs[index]
        for index in evidence
    )


# --- transactions that may lose a race ---------------------------------------------------------------


def run_with_retries(engine: Engine, work: Callable[[Connection], T], what: str) -> T:
    """Run ``work`` in one transaction, retrying the whole transaction when it loses a race.

    Imports read, then insert: a concurrent import of the same new id loses with a unique violation,
    and its retry sees the row and updates it instead.
    """
    return run_in_transaction(engine, work, what, unique_violation=True)


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
        for chunk in chunks(ids):
            query = select(GoldenExampleRow).where(GoldenExampleRow.id.in_(chunk))
            for row in conn.execute(query).mappings():
                stored[row["id"]] = dict(row)
        now = datetime.now(UTC)
        for example in incoming:
            values = example_values(example)
            current = stored.get(example.id)
            if current is None:
                conn.execute(
                    dialect_insert(conn)(GoldenExampleRow).values(
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
                if current["logs"] != values["logs"]:
                    report.stale_labels += _mark_stale_labels(
                        conn, example.id, current["logs"], values["logs"], now
                    )
        return report

    return run_with_retries(engine, work, "import the golden examples")


def _mark_stale_labels(
    conn: Connection, example_id: str, old_logs: Sequence[Any], new_logs: Sequence[Any], now: datetime
) -> int:
    """Mark the example's current labels whose evidence moved as stale; how many were newly marked."""
    rows = conn.execute(
        select(LabelRow.id, LabelRow.evidence).where(
            LabelRow.example_id == example_id, LabelRow.stale_at.is_(None)
        )
    ).all()
    moved = [row.id for row in rows if evidence_moved(row.evidence or [], old_logs, new_logs)]
    if moved:
        conn.execute(update(LabelRow).where(LabelRow.id.in_(moved)).values(stale_at=now))
    return len(moved)


def fresh(labels: Sequence[LabelRecord]) -> list[LabelRecord]:
    """The labels that still count: the stale ones left out."""
    return [label for label in labels if not label.stale]


def export_report(engine: Engine) -> ExportReport:
    """Every example with its decided label (sorted by id), and the examples that have none."""
    with session_scope(engine) as session:
        rows = list(session.scalars(select(GoldenExampleRow).order_by(GoldenExampleRow.id)))
        labels = labels_by_example(session.connection())
    examples: list[GoldenExample] = []
    left_out: list[LeftOut] = []
    for row in rows:
        resolution = resolve(fresh(labels.get(row.id, [])))
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
        stale=getattr(row, "stale_at", None) is not None,
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


def labels_by_example(conn: Connection, example_id: str | None = None) -> dict[str, list[LabelRecord]]:
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
        fields: dict[str, Any] = {
            "root_cause": checked.root_cause,
            "evidence": checked.evidence,
            "severity": checked.severity,
            "summary": checked.summary,
            "adjudicated_by": adjudicated_by,
        }
        insert = dialect_insert(conn)
        upsert = insert(LabelRow).values(
            example_id=example_id, labeler=labeler, revision=1, created_at=now, updated_at=now, **fields
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=["example_id", "labeler"],
            set_={
                **{name: upsert.excluded[name] for name in fields},
                "updated_at": now,
                "revision": LabelRow.revision + 1,
                "stale_at": None,  # saved again against the current lines: it holds once more
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
        return labels_by_example(conn, example_id).get(example_id, [])


def all_labels(engine: Engine) -> list[LabelRecord]:
    """Every current label, by example and then in the order the labelers first labeled it."""
    with engine.connect() as conn:
        return [record for records in labels_by_example(conn).values() for record in records]


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
    """Examples whose labelers disagree and that nobody has adjudicated, by id (stale labels left out)."""
    return find_disagreements(fresh(all_labels(engine)))
