"""Keyset paging under a chosen sort: `ORDER BY <field>, <id>` in SQL and page tokens tied to the sort.

A list names its sortable fields once (`Sortable`); `sort` is a field name, `-` in front for
descending. The id breaks ties (in the same direction), so every row has one place in the order and
a page boundary never repeats or skips a row. Without `sort` a list keeps its old order and tokens
(by id, the token is the last id). A sorted list pages with the services' one keyset mechanism
(services/runtime/paging.py) over (field, id): its token is paging's token of the last row tagged with
the sort, behind `~` (which no id contains); a token of another sort, or of no sort, is
`invalid_page_token` rather than a silently different page. A caller that merges several lists by
time (the approvals inbox) names where each list starts instead: `start`, a (time, id) position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import DateTime
from sqlalchemy.sql import Select

from services.runtime import paging
from services.runtime.clock import from_timestamp
from services.runtime.errors import InvalidInput

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")  # a select of one entity or several
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

    def keys(self, sort: str) -> list[paging.Key]:
        """The keyset order of `sort`: the field, then the id in the same direction."""
        name, descending = self.order(sort)
        return [(self.fields[name], descending), (self.key, descending)]

    def apply(self, stmt: S, *, sort: str, token: str, start: tuple[datetime, str] | None = None) -> S:
        """The statement ordered by `sort` then id, starting after `token` (a token of this sort), or
        after `start`: a (time, id) position of a time sort named by a caller that merges several
        lists (an empty id stands before every row at that time)."""
        if start is not None:
            keys = self.keys(sort)
            field = keys[0][0].type
            if token or not isinstance(getattr(field, "impl", field), DateTime):
                raise InvalidInput("invalid_start", "a start position goes with a time sort, without a token")
            return paging.ordered(stmt.where(paging.after(keys, [*start])), keys)
        if not sort:
            if token.startswith(MARK):
                raise InvalidInput("invalid_page_token", "page_token belongs to another sort")
            return stmt.where(self.key > token).order_by(self.key)
        keys = self.keys(sort)
        if token:
            if not token.startswith(MARK):
                raise InvalidInput(
                    "invalid_page_token", "page_token is not one this list issued for this sort"
                )
            stmt = stmt.where(paging.after(keys, paging.decode(token[len(MARK) :], keys, tag=sort)))
        return paging.ordered(stmt, keys)

    def next_token(self, rows: Sequence[Any], size: int, *, sort: str) -> str:
        """The token after a page of `size` read with one row more (a row: a model, or a tuple led by it)."""
        if len(rows) <= size:
            return ""
        last = rows[size - 1]
        return self.token(last[0] if isinstance(last, tuple) else last, sort=sort)

    def token(self, row: Any, *, sort: str) -> str:
        """The page token that continues after `row` (a model instance of this list) under `sort`."""
        if not sort:
            return str(getattr(row, self.key.key))
        return MARK + paging.encode(self.keys(sort), row, tag=sort)


def start_of(after_time: Timestamp, after_id: str) -> tuple[datetime, str] | None:
    """The `start` of a list request's `after_time` and `after_id` fields; none without a time."""
    at = from_timestamp(after_time)
    return None if at is None else (at, after_id)
