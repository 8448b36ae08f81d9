"""The labeling queue: which windows wait for a labeler and why, with what they need to label them.

Triage runs sent to labeling become golden examples ``run-<id>`` when a queue is opened. A window waits
for a labeler whose own label went stale (a re-import moved its evidence lines), then when labelers
disagree, when it has one label and needs a second opinion, when it came from Triage, and when nobody
labeled it yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from app.errors import InputError
from app.golden.agreement import resolve
from app.golden.labels import (
    LabelRecord,
    clean_labeler,
    fresh,
    labels_by_example,
    rfc3339,
    run_with_retries,
)
from app.golden.schema import GoldenExample, GoldenLabel, GoldenLog, GoldenWindow, describe_validation_error
from app.store.db import session_scope
from app.store.sql import chunks, dialect_insert
from app.store.tables import GoldenExampleRow, TriageRunRow

log = logging.getLogger(__name__)

TRIAGE_RUN_PREFIX = "run-"

QueueReason = Literal["stale", "disputed", "second_opinion", "triage_run", "unlabeled"]
QUEUE_ORDER: tuple[QueueReason, ...] = ("stale", "disputed", "second_opinion", "triage_run", "unlabeled")


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
    stale_label: LabelRecord | None = Field(
        default=None, description="This labeler's own label, when it went stale (shown even when blind)."
    )


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
        insert = dialect_insert(conn)
        with Session(conn) as session:
            for chunk in chunks(missing):
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
    """Why an example waits for ``labeler`` (None when it does not): stale, disputed, second opinion or new."""
    own = [label for label in labels if label.labeler == labeler]
    if own:
        return "stale" if own[0].stale else None
    status = resolve(fresh(labels)).status
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
        labels = labels_by_example(conn)
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
            if reason == "stale":
                item.stale_label = next(label for label in labels[row.id] if label.labeler == name)
            if not blind:
                item.suggestion = _suggestion(runs.get(row.triage_run_id or ""), len(item.window.logs))
                item.other_labels = [label for label in labels.get(row.id, []) if label.labeler != name]
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
        for chunk in chunks(ids):
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
