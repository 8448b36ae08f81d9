"""SQL the domains share: insert-or-update on a unique key, and ``IN`` lists cut into chunks.

Both work on SQLite and PostgreSQL, the two databases the store supports; anything else is refused with
a StoreError rather than left to fail on dialect-specific SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.errors import StoreError

T = TypeVar("T")

IN_CHUNK = 500
"""Values per ``IN (...)``: far below SQLite's bound-parameter limit (32766) and PostgreSQL's (65535)."""


def dialect_insert(bind: Connection | Engine) -> Any:
    """The dialect's INSERT construct (it has ON CONFLICT); StoreError for databases other than SQLite and PostgreSQL."""
    name = bind.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise StoreError(f"the store needs SQLite or PostgreSQL, not {name}")


def upsert(
    session: Session,
    table: Table,
    values: Mapping[str, Any],
    *,
    conflict: Sequence[str] | None = None,
    update: bool = False,
) -> int:
    """INSERT one row; on a clash of ``conflict`` (default: the primary key) do nothing or update the rest.

    Returns the number of rows written (0 when the row existed and ``update`` is False).
    """
    insert = dialect_insert(session.get_bind())
    keys = list(conflict) if conflict is not None else [column.name for column in table.primary_key.columns]
    statement = insert(table).values(**values)
    if update:
        changes = {name: value for name, value in values.items() if name not in keys}
        statement = statement.on_conflict_do_update(index_elements=keys, set_=changes)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size``, for ``column.in_(chunk)`` queries."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    for start in range(0, len(values), size):
        yield values[start : start + size]
