"""Past triage runs read back from the store: a light list of them, and one run with its result and logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select

from app.errors import InputError
from app.logs.compress import BudgetReport
from app.logs.models import LogEntry, parse_rfc3339_ns
from app.prompts.registry import SHORT_HASH
from app.store.db import session_scope
from app.store.tables import TriageRunRow
from app.triage_models import EvidenceLine, TriageResult

log = logging.getLogger(__name__)

RunStatus = Literal["ok", "error", "cancelled"]


class RunHead(BaseModel):
    """What the list of past runs shows of one run (its logs are not read)."""

    run_id: str
    created_at: datetime
    status: RunStatus
    source: str
    namespace: str
    window_start: datetime
    window_end: datetime
    log_lines: int
    model: str
    prompt: str
    root_cause: str | None
    total_ms: float | None
    error_kind: str | None


class StoredRun(BaseModel):
    """One past run as the Triage page shows it: the result, the lines it read, when and from where."""

    result: TriageResult
    entries: list[LogEntry]
    created_at: datetime
    source: str
    queued_for_labeling: bool


def _aware(moment: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _prompt_ref(name: str, sha256: str) -> str:
    return f"{name}@{sha256[:SHORT_HASH]}" if sha256 else name


_HEAD_COLUMNS = (
    TriageRunRow.id,
    TriageRunRow.created_at,
    TriageRunRow.status,
    TriageRunRow.source,
    TriageRunRow.namespace,
    TriageRunRow.window_start,
    TriageRunRow.window_end,
    TriageRunRow.log_lines,
    TriageRunRow.model,
    TriageRunRow.prompt_name,
    TriageRunRow.prompt_sha256,
    TriageRunRow.root_cause,
    TriageRunRow.total_ms,
    TriageRunRow.error_kind,
)


def list_runs(engine: Engine, limit: int = 100) -> list[RunHead]:
    """The most recent runs, newest first, without their logs."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(*_HEAD_COLUMNS).order_by(TriageRunRow.created_at.desc()).limit(limit)
        ).all()
    return [
        RunHead(
            run_id=row.id,
            created_at=_aware(row.created_at),
            status=row.status,
            source=row.source,
            namespace=row.namespace,
            window_start=_aware(row.window_start),
            window_end=_aware(row.window_end),
            log_lines=row.log_lines,
            model=row.model,
            prompt=_prompt_ref(row.prompt_name, row.prompt_sha256),
            root_cause=row.root_cause,
            total_ms=row.total_ms,
            error_kind=row.error_kind,
        )
        for row in rows
    ]


def _evidence(result: dict[str, Any]) -> list[EvidenceLine]:
    lines = []
    for item in result.get("evidence") or []:
        try:
            lines.append(EvidenceLine.model_validate(item))
        except ValidationError:
            log.warning("a stored evidence line is malformed and is left out: %r", item)
    return lines


def _budget_summary(budget: dict[str, Any]) -> str:
    if not budget:
        return ""
    try:
        return BudgetReport.model_validate(budget).summary()
    except ValidationError:
        return ""


def _entries(logs: list[Any]) -> list[LogEntry]:
    entries = []
    for item in logs:
        try:
            entries.append(
                LogEntry(
                    ts_ns=parse_rfc3339_ns(item["ts"]), labels=item.get("labels") or {}, line=item["line"]
                )
            )
        except (KeyError, TypeError, ValueError, ValidationError):
            log.warning("a stored log line is malformed and is left out")
    return entries


def load_run(engine: Engine, run_id: str) -> StoredRun:
    """One stored run with its result, evidence and logs; InputError when there is none."""
    with session_scope(engine) as session:
        row = session.get(TriageRunRow, run_id)
        if row is None:
            raise InputError(f"no triage run {run_id!r} in the store")
        stored = row.result or {}
        entries = _entries(row.logs or [])
        result = TriageResult(
            run_id=row.id,
            status=cast(RunStatus, row.status),  # checked by the model
            root_cause=row.root_cause,
            confidence=stored.get("confidence"),
            evidence=_evidence(stored),
            summary=stored.get("summary"),
            error=row.error,
            error_kind=row.error_kind,
            namespace=row.namespace,
            query=row.query,
            window_start=_aware(row.window_start),
            window_end=_aware(row.window_end),
            log_lines=row.log_lines,
            # Not stored: whether the line limit cut the window. Its lines are all here.
            truncated=False,
            budget=_budget_summary(row.budget or {}),
            prompt_version=_prompt_ref(row.prompt_name, row.prompt_sha256),
            model=row.model,
            quantization=row.quantization,
            ttft_ms=row.ttft_ms,
            total_ms=row.total_ms,
            tokens_per_s=row.tokens_per_s,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            trace_id=row.trace_id,
            raw_output=row.raw_output or "",
        )
        return StoredRun(
            result=result,
            entries=entries,
            created_at=_aware(row.created_at),
            source=row.source,
            queued_for_labeling=bool(row.queued_for_labeling),
        )


def queue_for_labeling(engine: Engine, run_id: str) -> None:
    """Put a stored triage run into the labeling queue."""
    with session_scope(engine) as session:
        row = session.get(TriageRunRow, run_id)
        if row is None:
            raise InputError(f"no triage run {run_id!r}")
        row.queued_for_labeling = True
