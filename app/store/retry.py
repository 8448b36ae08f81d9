"""Transactions that may lose a race, retried whole with tenacity.

Concurrent writers (two labelers, two eval workers) can make a transaction fail for reasons another try
fixes: SQLite reports the database locked or busy, PostgreSQL aborts one side of a serialization
failure (40001) or a deadlock (40P01). ``run_in_transaction`` runs a unit of work in one transaction
and, on such a failure, rolls back and runs all of it again after a jittered backoff, so the racers do
not collide again in lockstep. Callers whose work reads-then-inserts may also retry a unique violation
(23505): the retry sees the row the other side committed. Everything else becomes a ``StoreError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from app.errors import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 12
# Full jitter, doubling from 5 ms up to 0.64 s: a dozen attempts span about three seconds of contention.
_WAIT = wait_random_exponential(multiplier=0.005, max=0.64)

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
UNIQUE_VIOLATION = "23505"


def is_transient(exc: BaseException, *, unique_violation: bool = False) -> bool:
    """A failure another attempt can get past: SQLite locked/busy, PostgreSQL serialization failure or deadlock.

    With ``unique_violation``, a duplicate key (PostgreSQL 23505, SQLite's UNIQUE constraint) counts too.
    """
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in {SERIALIZATION_FAILURE, DEADLOCK_DETECTED}:
        return True
    if unique_violation and sqlstate == UNIQUE_VIOLATION:
        return True
    text = str(exc.orig).lower()
    if isinstance(exc, IntegrityError):
        return unique_violation and "unique constraint failed" in text
    return isinstance(exc, OperationalError) and ("locked" in text or "busy" in text)


def transaction_retrying(*, unique_violation: bool = False, attempts: int = MAX_ATTEMPTS) -> Retrying:
    """A tenacity ``Retrying`` that retries transient store failures (see ``is_transient``) with jitter."""

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.debug("retrying a transaction (attempt %d) after %s", state.attempt_number, exc)

    return Retrying(
        stop=stop_after_attempt(attempts),
        wait=_WAIT,
        retry=retry_if_exception(lambda exc: is_transient(exc, unique_violation=unique_violation)),
        before_sleep=log_retry,
        reraise=True,
    )


def run_in_transaction(
    engine: Engine,
    work: Callable[[Connection], T],
    what: str,
    *,
    unique_violation: bool = False,
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Run ``work`` in one transaction, retried whole when it loses a race; StoreError('could not <what>')."""
    try:
        for attempt in transaction_retrying(unique_violation=unique_violation, attempts=attempts):
            with attempt, engine.begin() as conn:
                return work(conn)
    except DBAPIError as exc:
        raise StoreError(f"could not {what}: {exc.__class__.__name__}: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"could not {what}: {exc.__class__.__name__}: {exc}") from None
    raise AssertionError("unreachable: tenacity either returns, retries or re-raises")
