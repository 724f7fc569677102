"""Keyset paging for the services' list RPCs: one page in a stable order, an opaque token for the next.

A list names its order as `(column, descending)` keys ending with a unique one (e.g. created_at, id):
the page is read after the token's key, so rows written meanwhile neither repeat nor push others off.
The token is base64url of the last row's key values (times as UTC microseconds), opaque to callers; one
this module did not give out is `invalid_page_token` (422 at the gateway).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, types
from sqlalchemy.sql import Select
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from services.runtime.errors import InvalidInput

DEFAULT_PAGE = 50
MAX_PAGE = 100
# a sorted list's token carries a name of up to 100 characters (up to 6 bytes each in JSON) in base64
MAX_TOKEN = 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Row = TypeVar("Row")
S = TypeVar("S", bound=Select[Any])
Key = tuple[Any, bool]  # (a mapped column such as col(Model.field), descending)


def page_size(requested: int) -> int:
    """The page size a request asked for: 0 is the default, more than MAX_PAGE is MAX_PAGE."""
    if requested < 0:
        raise InvalidInput("invalid_page_size", f"page_size is 1..{MAX_PAGE}")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)


def read_page(
    session: Session, stmt: SelectOfScalar[Row], order: Sequence[Key], *, token: str, size: int
) -> tuple[list[Row], str]:
    """Rows of `stmt` after `token` in `order`, at most `size`, and the next page's token ("" at the end)."""
    if token:
        stmt = stmt.where(after(order, decode(token, order)))
    rows = list(session.exec(ordered(stmt, order).limit(size + 1)))
    return rows[:size], encode(order, rows[size - 1]) if len(rows) > size else ""


def count_rows(session: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    """How many rows a list's filtered `stmt` (before its order, keyset and limit) holds: one COUNT over
    the same FROM and WHERE, so a count and the list it counts agree, scope included."""
    counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    return int(session.scalar(counted) or 0)


def ordered(stmt: S, order: Sequence[Key]) -> S:
    """`stmt` in `order`."""
    return stmt.order_by(*(column.desc() if descending else column.asc() for column, descending in order))


def after(order: Sequence[Key], values: list[Any]) -> Any:
    """Rows past the key: ahead on the first key, or equal on it and past on the next, and so on."""
    clauses = []
    for i, (column, descending) in enumerate(order):
        equal = [c == v for (c, _), v in zip(order[:i], values[:i], strict=True)]
        clauses.append(and_(*equal, column < values[i] if descending else column > values[i]))
    return or_(*clauses)


def _python_type(column: Any) -> type:
    """datetime, int or str: what a key column holds (through a TypeDecorator such as SQLModel's)."""
    declared = getattr(column.type, "impl", column.type)
    if isinstance(declared, types.DateTime):
        return datetime
    return int if isinstance(declared, types.Integer) else str


def encode(order: Sequence[Key], row: Any, *, tag: str = "") -> str:
    """The token that continues after `row` in `order`; a `tag` (e.g. the sort) is checked on decoding."""
    values: list[Any] = [tag] if tag else []
    for column, _ in order:
        value = getattr(row, column.key)
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            value = (aware - EPOCH) // timedelta(microseconds=1)
        values.append(value)
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(token: str, order: Sequence[Key], *, tag: str = "") -> list[Any]:
    """The key values in `token` (given out by `encode` for this order and tag), typed as their columns."""
    bad = InvalidInput("invalid_page_token", "page_token is not one this list gave out")
    if len(token) > MAX_TOKEN:
        raise bad
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(order) + bool(tag):
        raise bad
    if tag and values.pop(0) != tag:
        raise bad
    typed: list[Any] = []
    for (column, _), value in zip(order, values, strict=True):
        kind = _python_type(column)
        if kind is datetime and type(value) is int and 0 <= value < 2**62:
            typed.append(EPOCH + timedelta(microseconds=value))
        elif kind is int and type(value) is int and abs(value) < 2**63:
            typed.append(value)
        elif (kind is str and isinstance(value, str) and len(value) <= MAX_TOKEN) or value is None:
            typed.append(value)
        else:
            raise bad
    return typed
