"""The inbox under a `sort`: every queue merged on the server by the sort's key, then by (kind, id).

The services page their review queues by id, none by the time an item went into review, so a sorted
inbox reads each kind's whole queue in the operator's scope (the services' own reads, at most
`QUEUE_CAP` items a kind), orders the union by (key, kind, object id), a unique position for every
item, and answers the page after the token's position. The token records that position tagged with
the sort (`~` + base64url of JSON), so a token of another sort, or of the unsorted inbox, is
`invalid_page_token`, and an item decided between two pages moves nobody else across the boundary.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from gateway.auth import OperatorPrincipal
from gateway.clients import Clients
from gateway.problems import Problem
from gateway.routes.reviews.sources import READERS, ReviewItem

SORTS = ("submitted_at", "kind")
MARK = "~"
QUEUE_CAP = 1000  # items of one kind a sorted inbox merges; a longer queue is refused, never cut
TOKEN_LENGTH = 480  # the tag, a time or kind, a kind and an object id of up to 120 characters
_READ = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Position = tuple[int | str, str, str]


def _key(item: ReviewItem, field: str) -> Position:
    """Where `item` stands under `field`: (the field's value, kind, object id); no time sorts first."""
    if field == "kind":
        return item.kind, item.kind, item.object_id
    at = item.submitted_at
    micros = -1 if at is None else (at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return micros, item.kind, item.object_id


def token(sort: str, item: ReviewItem) -> str:
    """The page token that continues after `item` under `sort`."""
    raw = json.dumps([sort, *_key(item, sort.removeprefix("-"))], separators=(",", ":"))
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
    _, first, kind, object_id = values
    wanted = str if sort.removeprefix("-") == "kind" else int
    if type(first) is not wanted or not isinstance(kind, str) or not isinstance(object_id, str):
        raise bad
    return first, kind, object_id


async def _queue(clients: Clients, operator: OperatorPrincipal, kind: str) -> list[ReviewItem]:
    """One kind's whole queue in the operator's scope, page by page."""
    items: list[ReviewItem] = []
    inner = ""
    while True:
        found, inner = await READERS[kind](clients, operator, _READ, inner)
        items.extend(found)
        if len(items) > QUEUE_CAP:
            raise Problem(
                422,
                "review_queue_too_long",
                f"more than {QUEUE_CAP} {kind} items wait for review: the inbox sorts queues up to "
                "that size; without sort it pages through any length",
            )
        if not inner:
            return items


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
    queues = await asyncio.gather(*(_queue(clients, operator, k) for k in kinds))
    merged = sorted((i for q in queues for i in q), key=lambda i: _key(i, field), reverse=descending)
    if after is not None:
        merged = [i for i in merged if (_key(i, field) < after if descending else _key(i, field) > after)]
    shown = merged[:page_size]
    return shown, token(sort, shown[-1]) if len(merged) > page_size else None
