"""New rows written with Core inserts on the session's connection, at once.

An ORM `session.add` costs a unit of work at the next flush (state tracking, dependency sorting,
identity map); a row nobody reads back in the same transaction needs none of that. The row is still
written inside the caller's transaction and goes with its commit or rollback.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlmodel import Session, SQLModel


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


def insert_rows(session: Session, *rows: SQLModel) -> None:
    """INSERT each row (a table model instance, defaults already filled in) in the session's transaction."""
    connection = session.connection()
    for row in rows:
        table: Table = type(row).__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
        values: dict[str, Any] = {column.name: getattr(row, column.name) for column in table.columns}
        connection.execute(_insert(table), values)
