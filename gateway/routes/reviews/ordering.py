"""The inbox under a `sort`: the kinds' queues merged exactly on the server, keyset style, at any length.

Each service pages its review queue by the time an item went into review, then id, and starts a page
after an explicit (time, id) position. The merged order is (time, kind, id) for `submitted_at` and
(kind, time, id) for `kind`, all in the sort's direction, a unique place for every item. A page reads at
most page_size + 1 items of each kind after the position its token records, merges them (each queue
keeps its service's order) and shows the first page_size, so no queue is ever read whole. The token is
that position, the last item shown, tagged with the sort (`~` + base64url of JSON): a token of another
sort, or of the unsorted inbox, is `invalid_page_token`, and an item decided between two pages moves
nobody else across the boundary.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import heapq
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from gateway.auth import OperatorPrincipal
from gateway.clients import Clients
from gateway.problems import Problem
from gateway.routes.reviews.sources import KINDS, READERS, ReviewItem, Start

SORTS = ("submitted_at", "kind")
MARK = "~"
TOKEN_LENGTH = 480  # the tag, a time and a kind, and an object id of up to 120 characters
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)  # the services keep times to the microsecond
Position = tuple[int | str, int | str, str]  # (time, kind, id) or (kind, time, id); times in microseconds


def _micros(item: ReviewItem) -> int:
    at = item.submitted_at
    return -1 if at is None else (at.astimezone(UTC) - _EPOCH) // _TICK


def _key(item: ReviewItem, field: str) -> tuple[int | str, int | str]:
    """Where `item` stands among the queues under `field`; within a queue the service's order decides."""
    return (item.kind, _micros(item)) if field == "kind" else (_micros(item), item.kind)


def token(sort: str, item: ReviewItem) -> str:
    """The page token that continues after `item` under `sort`."""
    raw = json.dumps([sort, *_key(item, sort.removeprefix("-")), item.object_id], separators=(",", ":"))
    return MARK + base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")


def position(sort: str, page_token: str) -> Position | None:
    """The position a page token records, checked to be one of this sort."""
    if not page_token:
        return None
    bad = Problem(422, "invalid_page_token", "page_token is not one this list issued for this sort")
    if not page_token.startswith(MARK) or len(page_token) > TOKEN_LENGTH:
        raise bad
    body = page_token[len(MARK) :]
    try:
        values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != 4 or values[0] != sort:
        raise bad
    _, first, second, object_id = values
    by_kind = sort.removeprefix("-") == "kind"
    kind, micros = (first, second) if by_kind else (second, first)
    if kind not in KINDS or type(micros) is not int or not -1 <= micros < 2**62 or type(object_id) is not str:
        raise bad
    return first, second, object_id


def _start(kind: str, field: str, descending: bool, after: Position | None) -> Start | None:
    """Where `kind`'s queue resumes after the merged position `after`; None when it is all behind it."""
    if after is None:
        return Start(descending)
    first, second, object_id = after
    last_kind, micros = (first, second) if field == "kind" else (second, first)
    at = _EPOCH + timedelta(microseconds=int(micros))
    if kind == last_kind:
        return Start(descending, (at, object_id))
    behind = kind > str(last_kind) if descending else kind < str(last_kind)
    if field == "kind":
        return None if behind else Start(descending)
    # the same time: a kind behind the last one shown is past that time, one ahead of it is not yet
    # (an empty id stands before every item at a time; the next microsecond is past it)
    return Start(descending, (at + _TICK if behind != descending else at, ""))


async def sorted_page(
    clients: Clients,
    operator: OperatorPrincipal,
    *,
    kinds: Sequence[str],
    sort: str,
    page_size: int,
    page_token: str,
) -> tuple[list[ReviewItem], str | None]:
    """One page of the merged queues under `sort` after the token's position, and the next token."""
    after = position(sort, page_token)
    field, descending = sort.removeprefix("-"), sort.startswith("-")
    starts = {k: s for k in kinds if (s := _start(k, field, descending, after)) is not None}
    reads = await asyncio.gather(
        *(READERS[k](clients, operator, page_size + 1, "", s) for k, s in starts.items())
    )
    queues = [found for found, _ in reads]
    merged = list(heapq.merge(*queues, key=lambda i: _key(i, field), reverse=descending))
    shown = merged[:page_size]
    # a service pages at most 100 at a time: one that says it has more has more, whatever was read
    more = len(merged) > page_size or any(more for _, more in reads)
    return shown, token(sort, shown[-1]) if more and shown else None
