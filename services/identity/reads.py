"""One-statement reads on identity's hot paths, run without an ORM session.

A read answered by ONE SELECT needs none of what a session costs per request: a single statement is
its own consistent snapshot (SQLite in autocommit mode runs it in an implicit read transaction;
PostgreSQL's READ COMMITTED takes a snapshot per statement), so there is no BEGIN to emit, no
per-transaction lock-wait PRAGMA (readers of a WAL database do not wait for the writer), no identity
map and no ORM objects to build. The statement is compiled once per dialect and run on a pooled DBAPI
connection; the columns' result processors (JSON on SQLite, ...) are applied as SQLAlchemy would.
A busy or locked database still answers `Unavailable`, as a session's read would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select

from services.runtime.db import is_retryable
from services.runtime.errors import Unavailable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order for a positional paramstyle, else None
    binds: Mapping[str, Processor]
    defaults: Mapping[str, object]  # the values of binds the statement fixes itself (a LIMIT's)
    results: tuple[Processor, ...]


class OneStatementRead:
    """A SELECT whose every bind parameter is named (`bindparam("name")`) and given to `rows` (or has
    its value in the statement, as `.limit(1)`), compiled once per dialect."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled = self._compiled[key] = _compile(self._statement, dialect)
        return compiled

    def rows(self, engine: Engine, **params: object) -> list[tuple[Any, ...]]:
        """Every row of the statement with `params` bound, its columns converted by their types."""
        compiled = self._compile(engine.dialect)
        values = {
            name: (value if (process := compiled.binds.get(name)) is None else process(value))
            for name, value in {**compiled.defaults, **params}.items()
        }
        args: Sequence[object] | Mapping[str, object] = (
            values if compiled.positional is None else tuple(values[name] for name in compiled.positional)
        )
        dbapi = engine.dialect.loaded_dbapi
        try:
            connection = engine.raw_connection()  # a pool checkout (connecting may meet a lock too)
        except DBAPIError as exc:
            raise _refusal(exc) from exc
        except dbapi.Error as exc:  # raised by the engine's own connect hook (its PRAGMAs), unwrapped
            raise _refusal(DBAPIError.instance(None, None, exc, dbapi.Error)) from exc
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, args)
                raw = cursor.fetchall()
            finally:
                cursor.close()
        except dbapi.Error as exc:
            error = DBAPIError.instance(compiled.sql, args, exc, dbapi.Error)
            raise _refusal(error) from exc
        finally:
            connection.close()  # back to the pool (which ends any transaction the driver opened)
        if not any(compiled.results):
            return [tuple(row) for row in raw]
        return [_converted(compiled.results, row) for row in raw]


def _compile(statement: Select[*tuple[Any, ...]], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    binds = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
    }
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.selected_columns
    )
    positional = tuple(compiled.positiontup or ()) if compiled.positional else None
    defaults = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
    return _Compiled(
        sql=compiled.string, positional=positional, binds=binds, defaults=defaults, results=results
    )


def _converted(processors: tuple[Processor, ...], row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        value if process is None else process(value) for process, value in zip(processors, row, strict=True)
    )


def _refusal(error: Exception) -> Exception:
    """A busy or locked database: `Unavailable` (the caller retries), as a write transaction answers."""
    if is_retryable(error):
        return Unavailable("database_busy", "the database is busy; retry the request")
    return error
