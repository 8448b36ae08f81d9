"""Reading stored eval runs: headers (never their items unless asked), items, workers and history.

Listing runs reads headers only; a run's header describes it fully (spec, fingerprint, metrics, report),
so two runs can be compared later without guessing. Runs recorded before the typed fingerprint, repeats
and scenarios existed read back with defaults for what they lack.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, select

from app.errors import InputError
from app.evals.compare import RunItems
from app.evals.metrics import ItemResult, RunMetrics
from app.evals.scoring import FAILED, Fingerprint, RunReport
from app.evals.spec import RunSpec, RunStatus
from app.store.db import session_scope
from app.store.sql import chunks
from app.store.tables import EvalCacheRow, EvalItemHistoryRow, EvalItemRow, EvalRunRow, EvalWorkerRow


def now() -> datetime:
    """The current time in UTC (every timestamp the recorder writes)."""
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A stored datetime as UTC-aware (SQLite hands back naive datetimes; they were stored in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class RunHeader(BaseModel):
    """A run's header row: spec, fingerprint, status and (when finished) metrics and report; no items."""

    id: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    status: RunStatus
    prompt_ref: str
    prompt_sha256: str
    model: str
    quantization: str
    gguf_file: str
    base_url: str
    params: dict[str, Any]
    golden_version: str
    slice: dict[str, Any]
    item_ids: list[str]
    repeats: int = 1
    concurrency: int
    fingerprint: Fingerprint
    summary: RunMetrics | None
    report: RunReport | None = None
    error: str | None

    @property
    def label(self) -> str:
        """How people name the run: model (quantization) · prompt version."""
        return f"{self.model} ({self.quantization}) · {self.prompt_ref}"

    @property
    def duration_s(self) -> float | None:
        """Wall time from start to end (resumes included), None while it has not ended."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (aware(self.ended_at) - aware(self.started_at)).total_seconds()

    @property
    def succeeded(self) -> bool:
        """Completed, with at least one answer from the model (a dead server is not a success)."""
        if self.status != "completed" or self.summary is None:
            return False
        return self.summary.items == 0 or self.summary.error_rate < 1.0

    @property
    def failures(self) -> dict[str, int]:
        """Failed results by outcome (invalid output, timeout, server error); {} while it has no results."""
        if self.report is not None:
            return dict(self.report.failed)
        outcomes = self.summary.outcomes if self.summary else {}
        return {outcome: outcomes[outcome] for outcome in sorted(FAILED) if outcomes.get(outcome)}

    @property
    def units(self) -> int:
        """Results the run needs: examples x repeats."""
        return len(self.item_ids) * self.repeats

    @property
    def spec(self) -> RunSpec:
        """What the run runs."""
        return RunSpec(
            prompt_ref=self.prompt_ref,
            prompt_sha256=self.prompt_sha256,
            model=self.model,
            quantization=self.quantization,
            gguf_file=self.gguf_file,
            params=self.params,
            golden_version=self.golden_version,
            items_sha256=self.fingerprint.golden.items_sha256,
            slice=self.slice,
            item_ids=self.item_ids,
            repeats=self.repeats,
            use_cache=self.fingerprint.use_cache,
        )

    @classmethod
    def from_row(cls, row: EvalRunRow) -> RunHeader:
        """The header of a stored run (v1 runs included: their fingerprint is a plain dict)."""
        return cls.model_validate(
            {
                "id": row.id,
                "created_at": aware(row.created_at),
                "started_at": aware(row.started_at) if row.started_at else None,
                "ended_at": aware(row.ended_at) if row.ended_at else None,
                "status": row.status,
                "prompt_ref": row.prompt_ref,
                "prompt_sha256": row.prompt_sha256,
                "model": row.model,
                "quantization": row.quantization,
                "gguf_file": row.gguf_file,
                "base_url": row.base_url,
                "params": dict(row.params or {}),
                "golden_version": row.golden_version,
                "slice": dict(row.slice or {}),
                "item_ids": list(row.item_ids or []),
                "repeats": row.repeats or 1,
                "concurrency": row.concurrency,
                "fingerprint": dict(row.fingerprint or {}),
                "summary": row.summary or None,
                "report": row.report or None,
                "error": row.error,
            }
        )


class WorkerInfo(BaseModel):
    """A process that worked on a run, as ``eval show`` lists it."""

    id: str
    shard: str | None
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    ended_at: datetime | None
    status: str
    items: int


def item_from_row(row: EvalItemRow) -> ItemResult:
    """An item result from its stored row."""
    return ItemResult.model_validate(
        {
            "example_id": row.example_id,
            "repeat": row.repeat or 0,
            "scenario": row.scenario,
            "content_hash": row.content_hash,
            "expected": row.expected,
            "predicted": row.predicted,
            "outcome": row.outcome,
            "error": row.error,
            "raw_output": row.raw_output,
            "parsed": row.parsed,
            "expected_evidence": list(row.expected_evidence or []),
            "cited_evidence": list(row.cited_evidence or []),
            "ttft_ms": row.ttft_ms,
            "total_ms": row.total_ms,
            "tokens_per_s": row.tokens_per_s,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "trace_id": row.trace_id,
            "cached": row.cached,
            "copied_example": row.copied_example,
        }
    )


def list_runs(engine: Engine, limit: int = 200) -> list[RunHeader]:
    """The newest runs' headers (never their items), newest first."""
    with session_scope(engine) as session:
        rows = session.scalars(select(EvalRunRow).order_by(EvalRunRow.created_at.desc()).limit(limit))
        return [RunHeader.from_row(row) for row in rows]


def get_run(engine: Engine, ref: str) -> RunHeader:
    """A run's header by id or unique id prefix (at least 4 characters)."""
    ref = ref.strip()
    with session_scope(engine) as session:
        row = session.get(EvalRunRow, ref)
        if row is None and len(ref) >= 4:
            rows = list(session.scalars(select(EvalRunRow).where(EvalRunRow.id.startswith(ref)).limit(2)))
            if len(rows) > 1:
                raise InputError(f"run id prefix {ref!r} is ambiguous", hint="give more characters")
            row = rows[0] if rows else None
        if row is None:
            raise InputError(f"no eval run {ref[:80]!r}", hint="see `logtriage eval list`")
        return RunHeader.from_row(row)


def find_run(engine: Engine, run_id: str) -> RunHeader | None:
    """The run with exactly this id, or None."""
    with session_scope(engine) as session:
        row = session.get(EvalRunRow, run_id)
        return RunHeader.from_row(row) if row is not None else None


def load_items(engine: Engine, run_id: str) -> list[ItemResult]:
    """A run's stored item results, by example id and repeat."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(EvalItemRow)
            .where(EvalItemRow.run_id == run_id)
            .order_by(EvalItemRow.example_id, EvalItemRow.repeat)
        )
        return [item_from_row(row) for row in rows]


def load_run_items(engine: Engine, ref: str) -> RunItems:
    """A run as comparisons see it: its identity and its items."""
    header = get_run(engine, ref)
    return RunItems(
        run_id=header.id,
        label=header.label,
        golden_version=header.golden_version,
        slice=header.slice,
        items=load_items(engine, header.id),
    )


def load_history(engine: Engine, run_id: str) -> list[tuple[int, ItemResult]]:
    """The failed results a retry replaced, as (attempt, result), oldest first."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(EvalItemHistoryRow)
            .where(EvalItemHistoryRow.run_id == run_id)
            .order_by(EvalItemHistoryRow.id)
        )
        return [(row.attempt, ItemResult.model_validate(row.result)) for row in rows]


def list_workers(engine: Engine, run_id: str) -> list[WorkerInfo]:
    """The processes that worked on a run, first started first."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(EvalWorkerRow).where(EvalWorkerRow.run_id == run_id).order_by(EvalWorkerRow.started_at)
        )
        return [
            WorkerInfo(
                id=row.id,
                shard=f"{row.shard_index}/{row.shard_count}" if row.shard_count else None,
                host=row.host,
                pid=row.pid,
                started_at=aware(row.started_at),
                heartbeat_at=aware(row.heartbeat_at),
                ended_at=aware(row.ended_at) if row.ended_at else None,
                status=row.status,
                items=row.items,
            )
            for row in rows
        ]


def cached_answers(engine: Engine, keys: list[str]) -> dict[str, EvalCacheRow]:
    """The cached answers among ``keys``."""
    found: dict[str, EvalCacheRow] = {}
    with session_scope(engine) as session:
        for chunk in chunks(keys):
            found.update(
                (row.key, row)
                for row in session.scalars(select(EvalCacheRow).where(EvalCacheRow.key.in_(chunk)))
            )
    return found
