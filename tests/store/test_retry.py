"""Transactions that lose a race are retried whole: real SQLite locks, a real PostgreSQL serialization failure."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.errors import StoreError
from app.store.retry import is_transient, run_in_transaction


@pytest.fixture
def sqlite_without_waiting(tmp_path: Path) -> Iterator[tuple[Engine, sqlite3.Connection]]:
    """An engine that fails at once on a lock (no busy timeout), and a second connection to hold the lock."""
    path = tmp_path / "race.db"
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    yield engine, holder
    holder.close()
    engine.dispose()


def test_a_locked_sqlite_database_is_retried_until_the_other_writer_lets_go(
    sqlite_without_waiting: tuple[Engine, sqlite3.Connection],
) -> None:
    engine, holder = sqlite_without_waiting
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    attempts: list[int] = []

    def work(conn: Connection) -> int:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 2:
            holder.execute("COMMIT")  # the other writer finishes between our attempts
        conn.execute(text("UPDATE counter SET n = n + 1"))
        return conn.execute(text("SELECT n FROM counter")).scalar_one()

    assert run_in_transaction(engine, work, "bump the counter") == 1
    assert attempts == [1, 2]


def test_a_lock_that_is_never_released_ends_in_one_store_error_after_the_attempts(
    sqlite_without_waiting: tuple[Engine, sqlite3.Connection],
) -> None:
    engine, holder = sqlite_without_waiting
    holder.execute("BEGIN IMMEDIATE")
    attempts: list[int] = []

    def work(conn: Connection) -> None:
        attempts.append(1)
        conn.execute(text("UPDATE counter SET n = n + 1"))

    with pytest.raises(StoreError, match="could not bump the counter: OperationalError: database is locked"):
        run_in_transaction(engine, work, "bump the counter", attempts=3)
    assert len(attempts) == 3


def test_a_unique_violation_is_retried_only_when_the_caller_asks(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'unique.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (id TEXT PRIMARY KEY, n INTEGER)"))
    attempts: list[int] = []

    def upsert(conn: Connection) -> str:
        # Read, then insert or update: the first attempt loses to a row "another worker" inserted.
        attempts.append(1)
        if conn.execute(text("SELECT count(*) FROM item WHERE id = 'a'")).scalar_one():
            conn.execute(text("UPDATE item SET n = n + 1 WHERE id = 'a'"))
            return "updated"
        if len(attempts) == 1:
            with engine.begin() as other:
                other.execute(text("INSERT INTO item VALUES ('a', 1)"))
        conn.execute(text("INSERT INTO item VALUES ('a', 1)"))
        return "inserted"

    with pytest.raises(StoreError, match="IntegrityError"):
        run_in_transaction(engine, upsert, "add the item")
    assert len(attempts) == 1

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM item"))
    attempts.clear()
    assert run_in_transaction(engine, upsert, "add the item", unique_violation=True) == "updated"
    assert len(attempts) == 2
    engine.dispose()


@pytest.mark.postgres
def test_a_postgresql_serialization_failure_is_retried_whole(fresh_postgres_url: str) -> None:
    engine = create_engine(fresh_postgres_url, isolation_level="SERIALIZABLE")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
    attempts: list[int] = []
    failures: list[BaseException] = []

    def work(conn: Connection) -> int:
        attempts.append(1)
        seen = conn.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
        if len(attempts) == 1:
            # Another transaction commits a change to the row this one has read.
            with engine.begin() as other:
                other.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
        try:
            conn.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": seen + 1})
        except DBAPIError as exc:
            failures.append(exc)
            raise
        return seen + 1

    try:
        assert run_in_transaction(engine, work, "bump the counter") == 11
    finally:
        engine.dispose()
    assert len(attempts) == 2
    [failure] = failures
    assert getattr(getattr(failure, "orig", None), "sqlstate", None) == "40001"
    assert is_transient(failure)


def test_integrity_errors_are_not_transient_unless_asked() -> None:
    error = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed: item.id"))

    assert not is_transient(error)
    assert is_transient(error, unique_violation=True)
    assert not is_transient(ValueError("locked"))
