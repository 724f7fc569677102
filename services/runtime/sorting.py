"""Keyset paging under a chosen sort: `ORDER BY <field>, <id>` in SQL and page tokens tied to the sort.

A list names its sortable fields once (`Sortable`); `sort` is a field name, `-` in front for
descending. The id breaks ties (in the same direction), so every row has one place in the order and
a page boundary never repeats or skips a row. Without `sort` a list keeps its old order and tokens
(by id, the token is the last id). A sorted page's token carries the sort, the last row's field value
and its id (base64url JSON behind `~`, which no id contains); a token of another sort, or of no
sort, is `invalid_page_token` rather than a silently different page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlalchemy.sql import Select

from services.runtime.errors import InvalidInput

S = TypeVar("S", bound=Select[Any])
MARK = "~"


@dataclass(frozen=True)
class Sortable:
    """A list's id column (`key`, the default order and the tie-break) and its sortable columns by name."""

    key: Any
    fields: dict[str, Any]

    @classmethod
    def of(cls, model: type, key: str, *others: str) -> Sortable:
        """The columns of `model` by name: `key` (the id, itself sortable) and the other sortable ones."""
        return cls(key=getattr(model, key), fields={n: getattr(model, n) for n in (key, *others)})

    def order(self, sort: str) -> tuple[str, bool]:
        """(field, descending) of a `sort` parameter; an unknown field is invalid_sort naming the allowed."""
        name = sort.removeprefix("-")
        if name not in self.fields:
            allowed = ", ".join(f"{f}, -{f}" for f in self.fields)
            raise InvalidInput("invalid_sort", f"sort is one of: {allowed}")
        return name, sort.startswith("-")

    def apply(self, stmt: S, *, sort: str, token: str) -> S:
        """The statement ordered by `sort` then id, starting after `token` (a token of this sort)."""
        if not sort:
            if token.startswith(MARK):
                raise InvalidInput("invalid_page_token", "page_token belongs to another sort")
            return stmt.where(self.key > token).order_by(self.key)
        name, descending = self.order(sort)
        column = self.fields[name]
        if token:
            value, last_id = _decode(token, sort)
            if descending:
                after = or_(column < value, and_(column == value, self.key < last_id))
            else:
                after = or_(column > value, and_(column == value, self.key > last_id))
            stmt = stmt.where(after)
        if descending:
            return stmt.order_by(column.desc(), self.key.desc())
        return stmt.order_by(column, self.key)

    def next_token(self, rows: Sequence[Any], size: int, *, sort: str) -> str:
        """The token after a page of `size` read with one row more (a row: a model, or a tuple led by it)."""
        if len(rows) <= size:
            return ""
        last = rows[size - 1]
        return self.token(last[0] if isinstance(last, tuple) else last, sort=sort)

    def token(self, row: Any, *, sort: str) -> str:
        """The page token that continues after `row` (a model instance of this list) under `sort`."""
        last_id = getattr(row, self.key.key)
        if not sort:
            return str(last_id)
        value = getattr(row, self.fields[self.order(sort)[0]].key)
        if isinstance(value, datetime):
            value = {"at": value.isoformat()}
        raw = json.dumps([sort, value, last_id], separators=(",", ":"), ensure_ascii=False)
        return MARK + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str, sort: str) -> tuple[Any, str]:
    bad = InvalidInput("invalid_page_token", "page_token is not one this list issued for this sort")
    if not token.startswith(MARK):
        raise bad
    body = token[len(MARK) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        issued_for, value, last_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise bad from exc
    if issued_for != sort or not isinstance(last_id, str):
        raise bad
    if isinstance(value, dict):
        try:
            value = datetime.fromisoformat(value["at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise bad from exc
    elif value is not None and not isinstance(value, str | int | float):
        raise bad
    return value, last_id
