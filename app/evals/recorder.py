"""Writing the run log: run headers, item results, the work queue of claims, workers, history and cache.

A run's work is one claim row per (example, repeat). A worker (a CLI run or resume, one shard of a
Kubernetes Job, a dashboard run) takes pending claims in one atomic statement (``FOR UPDATE SKIP LOCKED``
on PostgreSQL; SQLite runs one writer at a time), so no two workers ever hold the same unit and each
unit is sent to the model once. A worker's heartbeat keeps its claims' leases in the future; when it
dies, they lapse and another worker takes them, and a worker on the same host releases the claims of a
process it can see is gone (``kill -9``) at once. An item is stored only while its worker still holds
the claim, in the same transaction that marks the claim done, and (run, example, repeat) is unique:
exactly one result per unit whatever crashes where.

Critical sections are single statements, or transactions whose first statement writes (which takes
SQLite's write lock and PostgreSQL's row lock before anything is read), so they hold on both databases.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import Engine, Table, and_, case, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.errors import InputError
from app.evals.metrics import ItemResult, score_run
from app.evals.runs import item_from_row, now
from app.evals.scoring import FAILED, Fingerprint, RetryRecord, run_report
from app.evals.spec import RunStatus, Shard
from app.store.db import session_scope
from app.store.sql import chunks, upsert
from app.store.tables import (
    EvalCacheRow,
    EvalClaimRow,
    EvalItemHistoryRow,
    EvalItemRow,
    EvalRunRow,
    EvalWorkerRow,
)

PENDING, CLAIMED, DONE = "pending", "claimed", "done"

_claims = cast(Table, EvalClaimRow.__table__)
_items = cast(Table, EvalItemRow.__table__)
_runs = cast(Table, EvalRunRow.__table__)
_workers = cast(Table, EvalWorkerRow.__table__)


class Claim(BaseModel):
    """One unit of work a worker holds: an example's repeat; ``attempts`` > 0 when it is a retry."""

    id: int
    example_id: str
    repeat: int
    attempts: int


def item_values(run_id: str, item: ItemResult) -> dict[str, Any]:
    """The eval_items row of an item result."""
    return {
        "run_id": run_id,
        "example_id": item.example_id,
        "repeat": item.repeat,
        "scenario": item.scenario,
        "content_hash": item.content_hash,
        "expected": item.expected,
        "predicted": item.predicted,
        "outcome": item.outcome,
        "error": item.error,
        "raw_output": item.raw_output,
        "parsed": item.parsed,
        "expected_evidence": list(item.expected_evidence),
        "cited_evidence": list(item.cited_evidence),
        "ttft_ms": item.ttft_ms,
        "total_ms": item.total_ms,
        "tokens_per_s": item.tokens_per_s,
        "prompt_tokens": item.prompt_tokens,
        "completion_tokens": item.completion_tokens,
        "trace_id": item.trace_id,
        "cached": item.cached,
        "copied_example": list(item.copied_example) if item.copied_example is not None else None,
        "created_at": now(),
    }


def cache_values(key: str, item: ItemResult) -> dict[str, Any]:
    """The eval_cache row of a fresh answer (valid or invalid output)."""
    return {
        "key": key,
        "raw_output": item.raw_output,
        "outcome_kind": "invalid_output" if item.outcome == "invalid_output" else "ok",
        "stats": {
            "ttft_ms": item.ttft_ms,
            "total_ms": item.total_ms,
            "tokens_per_s": item.tokens_per_s,
            "prompt_tokens": item.prompt_tokens,
            "completion_tokens": item.completion_tokens,
            # Kept so a cached answer needs neither the server's tokenizer nor the budget again.
            "cited_evidence": list(item.cited_evidence),
            "error": item.error,
            "trace_id": item.trace_id,
        },
        "created_at": now(),
    }


def process_gone(host: str, pid: int) -> bool:
    """True when ``pid`` on this host has exited (or is a zombie); False when alive or on another host."""
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, under another user
    try:
        # A killed child its parent has not reaped yet still answers kill(0); /proc says it is a zombie.
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


def _lock_run(session: Session, run_id: str) -> None:
    # A write first: on SQLite it takes the database's write lock, on PostgreSQL the run row's lock, so
    # what the transaction reads next cannot change under it.
    session.execute(update(_runs).where(_runs.c.id == run_id).values(status=_runs.c.status))


class RunRecorder:
    """Writes a run's log: creates runs, hands out claims, stores results, and ends the run once."""

    def __init__(self, engine: Engine, *, lease_s: float) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_s)

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    # --- the run --------------------------------------------------------------------------------------------

    def create_run(self, values: dict[str, Any]) -> bool:
        """Insert a run header unless a run with its id exists; True when this call created it."""
        with session_scope(self.engine) as session:
            return upsert(session, _runs, values) == 1

    def ensure_claims(self, run_id: str, item_ids: list[str], repeats: int) -> None:
        """One claim per (example, repeat) of the run, done where a result is already stored.

        Idempotent, so every worker calls it: runs recorded before claims existed get theirs here.
        """
        rows = [
            {
                "run_id": run_id,
                "example_id": example_id,
                "repeat": repeat,
                "position": position,
                "state": PENDING,
                "attempts": 0,
            }
            for position, example_id in enumerate(item_ids)
            for repeat in range(repeats)
        ]
        insert = postgresql.insert if self._postgres else sqlite.insert
        with session_scope(self.engine) as session:
            for chunk in chunks(rows):
                session.execute(insert(_claims).values(list(chunk)).on_conflict_do_nothing())
            stored = exists().where(
                _items.c.run_id == _claims.c.run_id,
                _items.c.example_id == _claims.c.example_id,
                _items.c.repeat == _claims.c.repeat,
            )
            session.execute(
                update(_claims)
                .where(_claims.c.run_id == run_id, _claims.c.state != DONE, stored)
                .values(state=DONE, claimed_by=None, lease_until=None)
            )

    def reopen(self, run_id: str, *, work_left: bool, resuming: bool) -> None:
        """Mark a run running again when it has work left; note a resume in its fingerprint."""
        if not work_left and not resuming:
            return
        with session_scope(self.engine) as session:
            _lock_run(session, run_id)
            row = session.get(EvalRunRow, run_id, populate_existing=True)
            if row is None:
                raise InputError(f"no eval run {run_id!r}")
            if work_left:
                row.status, row.ended_at, row.error = "running", None, None
            if resuming:
                fingerprint = Fingerprint.model_validate(row.fingerprint or {})
                fingerprint.resumes.append(now().isoformat())
                row.fingerprint = fingerprint.model_dump(mode="json")

    def retry_failed(self, run_id: str) -> int:
        """Put the run's failed results back in the queue, keeping each as history; how many."""
        with session_scope(self.engine) as session:
            _lock_run(session, run_id)
            failed = list(
                session.scalars(
                    select(EvalItemRow).where(EvalItemRow.run_id == run_id, EvalItemRow.outcome.in_(FAILED))
                )
            )
            if not failed:
                return 0
            for row in failed:
                claim = session.scalars(
                    select(EvalClaimRow).where(
                        EvalClaimRow.run_id == run_id,
                        EvalClaimRow.example_id == row.example_id,
                        EvalClaimRow.repeat == row.repeat,
                    )
                ).one()
                session.add(
                    EvalItemHistoryRow(
                        run_id=run_id,
                        example_id=row.example_id,
                        repeat=row.repeat,
                        attempt=claim.attempts,
                        outcome=row.outcome,
                        result=item_from_row(row).model_dump(mode="json"),
                        retired_at=now(),
                    )
                )
                claim.state, claim.claimed_by, claim.lease_until = PENDING, None, None
                claim.attempts += 1
                session.delete(row)
            run = session.get(EvalRunRow, run_id, populate_existing=True)
            assert run is not None
            fingerprint = Fingerprint.model_validate(run.fingerprint or {})
            fingerprint.retries.append(RetryRecord(at=now(), items=len(failed)))
            run.fingerprint = fingerprint.model_dump(mode="json")
            return len(failed)

    def progress(self, run_id: str) -> tuple[int, int]:
        """(done, total) units of the run, over every worker."""
        with session_scope(self.engine) as session:
            done, total = session.execute(
                select(func.sum(case((_claims.c.state == DONE, 1), else_=0)), func.count()).where(
                    _claims.c.run_id == run_id
                )
            ).one()
        return int(done or 0), int(total or 0)

    def complete(self, run_id: str) -> bool:
        """Record the metrics and status ``completed`` once no unit is open; False while some are."""
        done, total = self.progress(run_id)
        if done < total:
            return False
        with session_scope(self.engine) as session:
            _lock_run(session, run_id)
            row = session.get(EvalRunRow, run_id, populate_existing=True)
            assert row is not None
            if row.status != "completed":
                self._write_results(session, row)
                row.status, row.error, row.ended_at = "completed", None, now()
        return True

    def stop(self, run_id: str, worker_id: str, status: RunStatus, error: str | None) -> None:
        """A worker stopped early: mark the run failed or cancelled, unless another worker is still on it."""
        with session_scope(self.engine) as session:
            _lock_run(session, run_id)
            row = session.get(EvalRunRow, run_id, populate_existing=True)
            assert row is not None
            others = session.scalar(
                select(func.count())
                .select_from(_workers)
                .where(
                    _workers.c.run_id == run_id,
                    _workers.c.id != worker_id,
                    _workers.c.ended_at.is_(None),
                    _workers.c.heartbeat_at > now() - self.lease,
                )
            )
            if row.status == "running" and not others:
                self._write_results(session, row)
                row.status, row.error, row.ended_at = status, error, now()

    def _write_results(self, session: Session, row: EvalRunRow) -> None:
        # In item order, not storage order: float sums then come out the same whichever worker stored first.
        items = [
            item_from_row(item)
            for item in session.scalars(
                select(EvalItemRow)
                .where(EvalItemRow.run_id == row.id)
                .order_by(EvalItemRow.example_id, EvalItemRow.repeat)
            )
        ]
        retried = session.scalar(
            select(func.count()).select_from(EvalItemHistoryRow).where(EvalItemHistoryRow.run_id == row.id)
        )
        row.summary = score_run(items).model_dump(mode="json")
        row.report = run_report(
            items, examples=len(row.item_ids or []), repeats=row.repeats or 1, retried=int(retried or 0)
        ).model_dump(mode="json")

    # --- workers and claims -----------------------------------------------------------------------------------

    def register_worker(self, run_id: str, shard: Shard | None) -> str:
        """Record this process as a worker of the run; its id."""
        worker_id = str(uuid.uuid4())
        moment = now()
        with session_scope(self.engine) as session:
            session.add(
                EvalWorkerRow(
                    id=worker_id,
                    run_id=run_id,
                    shard_index=shard.index if shard else None,
                    shard_count=shard.count if shard else None,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=moment,
                    heartbeat_at=moment,
                    status="running",
                    items=0,
                )
            )
        return worker_id

    def release_lost(self, run_id: str) -> int:
        """Free the claims of this run's workers that died on this host (``kill -9``); how many workers."""
        with session_scope(self.engine) as session:
            candidates = session.execute(
                select(_workers.c.id, _workers.c.host, _workers.c.pid).where(
                    _workers.c.run_id == run_id, _workers.c.ended_at.is_(None)
                )
            ).all()
        lost = [worker_id for worker_id, host, pid in candidates if process_gone(host, pid)]
        for worker_id in lost:
            self.release(run_id, worker_id)
            self.end_worker(worker_id, "lost")
        return len(lost)

    def claim(self, run_id: str, worker_id: str, count: int, shard: Shard | None) -> list[Claim]:
        """Take up to ``count`` claimable units (pending, or held under a lapsed lease), own shard's first."""
        if count < 1:
            return []
        moment = now()
        claimable = or_(
            _claims.c.state == PENDING, and_(_claims.c.state == CLAIMED, _claims.c.lease_until < moment)
        )
        eligible = select(_claims.c.id).where(_claims.c.run_id == run_id, claimable)
        order: list[Any] = [_claims.c.position, _claims.c.repeat]
        if shard is not None and shard.count > 1:
            # A shard takes its own examples first (every repeat of an example stays on one server's
            # prompt cache), then helps the others: a slow shard never leaves the rest idle.
            order.insert(0, case((_claims.c.position % shard.count == shard.index, 0), else_=1))
        eligible = eligible.order_by(*order).limit(count)
        if self._postgres:
            eligible = eligible.with_for_update(skip_locked=True)
        statement = (
            update(_claims)
            .where(_claims.c.id.in_(eligible.scalar_subquery()))
            .values(state=CLAIMED, claimed_by=worker_id, lease_until=moment + self.lease)
            .returning(_claims.c.id, _claims.c.example_id, _claims.c.repeat, _claims.c.attempts)
        )
        with session_scope(self.engine) as session:
            rows = session.execute(statement).all()
        claims = [Claim(id=r.id, example_id=r.example_id, repeat=r.repeat, attempts=r.attempts) for r in rows]
        return sorted(claims, key=lambda c: (c.example_id, c.repeat))

    def heartbeat(self, run_id: str, worker_id: str) -> None:
        """Say this worker is alive and push its claims' leases forward."""
        moment = now()
        # Claims first, then the worker row: the order ``commit`` locks them in, or the two deadlock.
        with session_scope(self.engine) as session:
            session.execute(
                update(_claims)
                .where(
                    _claims.c.run_id == run_id, _claims.c.claimed_by == worker_id, _claims.c.state == CLAIMED
                )
                .values(lease_until=moment + self.lease)
            )
            session.execute(update(_workers).where(_workers.c.id == worker_id).values(heartbeat_at=moment))

    def commit(
        self, run_id: str, worker_id: str, claim: Claim, item: ItemResult, cache_key: str | None
    ) -> bool:
        """Store a result (and a fresh answer in the cache) if the claim is still ours; False if it was lost."""
        with session_scope(self.engine) as session:
            held = session.execute(
                update(_claims)
                .where(
                    _claims.c.id == claim.id, _claims.c.claimed_by == worker_id, _claims.c.state == CLAIMED
                )
                .values(state=DONE, lease_until=None)
                .returning(_claims.c.id)
            ).first()
            if held is None:  # the lease lapsed and another worker took the unit: its result will count
                session.rollback()
                return False
            upsert(session, _items, item_values(run_id, item), conflict=("run_id", "example_id", "repeat"))
            if (
                cache_key is not None
                and not item.cached
                and item.outcome in ("correct", "wrong", "invalid_output")
            ):
                # Replace: a --no-cache run or a retry refreshes what later runs will reuse.
                upsert(
                    session, cast(Table, EvalCacheRow.__table__), cache_values(cache_key, item), update=True
                )
            session.execute(
                update(_workers).where(_workers.c.id == worker_id).values(items=_workers.c["items"] + 1)
            )
        return True

    def release(self, run_id: str, worker_id: str) -> None:
        """Give back the units a worker holds (it stops, or it died)."""
        with session_scope(self.engine) as session:
            session.execute(
                update(_claims)
                .where(
                    _claims.c.run_id == run_id, _claims.c.claimed_by == worker_id, _claims.c.state == CLAIMED
                )
                .values(state=PENDING, claimed_by=None, lease_until=None)
            )

    def end_worker(self, worker_id: str, status: str) -> None:
        """Record that a worker ended (done, failed, cancelled, or lost)."""
        with session_scope(self.engine) as session:
            session.execute(
                update(_workers)
                .where(_workers.c.id == worker_id, _workers.c.ended_at.is_(None))
                .values(ended_at=now(), status=status)
            )
