"""Engine, sessions and schema migration for the configured database."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Generator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.errors import ConfigError, StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits; busy_timeout makes concurrent writers wait
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_store_engine(url: str) -> Engine:
    """A new engine for ``url``; SQLite files get their directory created and WAL mode."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"DATABASE_URL {url!r} is not a database URL",
            hint="use e.g. sqlite:////var/lib/logtriage/logtriage.db or a postgresql+psycopg:// URL",
        ) from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    try:
        engine = create_engine(url, **kwargs)
    except ArgumentError as exc:  # e.g. a driver that is not installed (NoSuchModuleError)
        raise ConfigError(
            f"DATABASE_URL {url!r} cannot be used: {exc}",
            hint="LogTriage stores to SQLite or to PostgreSQL through postgresql+psycopg://",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


MIGRATION_LOCK_KEY = 0x6C6F6774726961  # "logtria": the PostgreSQL advisory lock every migrator takes


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Generator[None]:
    """Hold an exclusive lock on ``<database>.migrate-lock`` (nothing to hold for an in-memory database)."""
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest Alembic revision.

    Processes that start together on one database (the shards of an eval Job) take turns: the first
    migrates, the others then find the schema current.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    postgres = engine.dialect.name == "postgresql"
    try:
        with _sqlite_file_lock(engine) if not postgres else nullcontext(), engine.begin() as connection:
            if postgres:
                # Held until this transaction ends; PostgreSQL's DDL is transactional, so the next
                # migrator sees the finished schema.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"could not migrate the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.__class__.__name__}: {exc.orig if hasattr(exc, 'orig') else exc}",
            hint="check DATABASE_URL and that the database server is reachable",
        ) from None


def get_engine(url: str) -> Engine:
    """The process-wide engine for ``url``, migrated to the newest schema on first use."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_store_engine(url)
            migrate(engine)
            _engines[url] = engine
        return engine


@contextmanager
def session_scope(engine: Engine) -> Generator[Session]:
    """A session that commits on success, rolls back on error, and turns DB errors into StoreError."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise StoreError(f"database error: {exc.__class__.__name__}: {exc}") from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
