from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from app.errors import StoreError
from app.store.db import get_engine, migrate, session_scope


def test_sqlite_database_is_created_and_migrated(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'nested' / 'store.db'}")
    assert {"prompt_versions", "triage_runs", "alembic_version"} <= set(inspect(engine).get_table_names())
    migrate(engine)  # a second upgrade is a no-op
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_errors_inside_a_session_roll_back_and_become_store_errors(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(StoreError, match="database error"), session_scope(engine) as session:
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError) as excinfo:
        get_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    message = excinfo.value.user_message()
    assert "Connection refused" in message
    assert "DATABASE_URL" in message
    assert "secret" not in message
    assert "\n" not in message


def test_migrations_match_the_table_definitions(tmp_path: Path) -> None:
    """Alembic's autogenerate finds nothing to change: tables.py and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.store.tables import Base

    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_starting_together_migrate_one_database_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The shards of an eval Job start at once on an empty database: every one must come up."""
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    code = "import sys; from app.store.db import get_engine; get_engine(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    engine = get_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_copied_example_column_goes_up_and_down_keeping_the_items(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Revision 0008 adds eval_items.copied_example: items stored before read back as not checked."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from app.evals.runs import load_items
    from app.store.db import MIGRATIONS_DIR

    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))

    def to(revision: str, *, down: bool = False) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

    def columns() -> set[str]:
        return {column["name"] for column in inspect(engine).get_columns("eval_items")}

    to("0007")
    assert "copied_example" not in columns()
    insert = text(
        "INSERT INTO eval_items (run_id, example_id, repeat, content_hash, expected, predicted, outcome, "
        "raw_output, expected_evidence, cited_evidence, cached, created_at) VALUES ('r1', :example, 0, "
        "'h', 'oom_killed', 'oom_killed', 'correct', '{}', '[]', '[]', false, CURRENT_TIMESTAMP)"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"example": "before"})
    to("head")
    assert "copied_example" in columns()
    with engine.begin() as connection:
        connection.execute(insert, {"example": "after"})
        connection.execute(
            text("UPDATE eval_items SET copied_example = :copied WHERE example_id = 'after'"),
            {"copied": '["app-a"]'},
        )
    items = {item.example_id: item for item in load_items(engine, "r1")}
    assert items["before"].copied_example is None
    assert items["after"].copied_example == ["app-a"]
    assert items["after"].leaked
    to("0007", down=True)
    assert "copied_example" not in columns()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM eval_items")).scalar() == 2
    to("head")
    assert "copied_example" in columns()
    engine.dispose()
