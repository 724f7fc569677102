"""`/v1/ops/reviews`: what waits for a reviewer across the services, in the operator's branch scope.

Each service answers for its own queue with the operator's actor, so branch scope and four eyes stay
where they are enforced; this route only pages across the queues and marks the operator's own work.
Without `sort` it pages kind by kind; with `sort` (submitted_at, kind; `-` descending) it merges the
queues, each sorted by its service, page by page on the server (gateway/routes/reviews/ordering.py).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.problems import Problem
from gateway.routes.reviews import ordering
from gateway.routes.reviews.counting import COUNTERS
from gateway.routes.reviews.sources import KINDS, READERS, ReviewItem
from gateway.routes.sorting import sort_query

router = APIRouter(prefix="/v1/ops/reviews", tags=["reviews"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
Kind = Literal["content_item", "benefit", "benefit_change", "strategy", "campaign"]


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    next_page_token: str | None = None


class ReviewCount(BaseModel):
    kind: str
    count: int
    capped: bool = False  # always false: each service counts its whole queue (kept for earlier clients)


class ReviewCounts(BaseModel):
    kinds: list[ReviewCount]
    total: int


def _parse_token(token: str, kinds: tuple[str, ...]) -> tuple[int, str]:
    kind, sep, inner = token.partition(":")
    if not sep or kind not in kinds:
        raise Problem(422, "invalid_page_token", "page_token is not one this route issued")
    return kinds.index(kind), inner


@router.get(
    "",
    operation_id="list_pending_reviews",
    summary="List items waiting for review",
    response_model=ReviewPage,
)
async def list_reviews(
    clients: ClientsDep,
    operator: Viewer,
    kind: Kind | None = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[
        str | None,
        Query(
            max_length=ordering.TOKEN_LENGTH,
            pattern=r"^([a-z_]+:[A-Za-z0-9_.=-]*|~[A-Za-z0-9_-]+)$",
            description="`next_page_token` of the previous page (a token is valid with its own sort)",
        ),
    ] = None,
    sort: Annotated[str, sort_query(*ordering.SORTS)] = "",
) -> ReviewPage:
    """Items waiting for review, kind by kind (or merged by `sort`); each marks the caller's own work."""
    kinds = (kind,) if kind else KINDS
    if sort:
        merged, token = await ordering.sorted_page(
            clients, operator, kinds=kinds, sort=sort, page_size=page_size, page_token=page_token or ""
        )
        return ReviewPage(items=merged, next_page_token=token)
    index, inner = _parse_token(page_token, kinds) if page_token else (0, "")
    items: list[ReviewItem] = []
    while index < len(kinds) and len(items) < page_size:
        found, inner = await READERS[kinds[index]](clients, operator, page_size - len(items), inner, None)
        items.extend(found)
        if not inner:
            index += 1
    more = index < len(kinds)
    return ReviewPage(items=items, next_page_token=f"{kinds[index]}:{inner}" if more else None)


@router.get(
    "/counts",
    operation_id="count_pending_reviews",
    summary="Count items waiting for review",
    response_model=ReviewCounts,
)
async def count_reviews(clients: ClientsDep, operator: Viewer) -> ReviewCounts:
    """How many items of each kind wait for review in the operator's scope (for the inbox's badges):
    each service counts its queue in one SQL COUNT, exact at any length."""
    counts = await asyncio.gather(*(COUNTERS[k](clients, operator) for k in KINDS))
    kinds = [ReviewCount(kind=k, count=n) for k, n in zip(KINDS, counts, strict=True)]
    return ReviewCounts(kinds=kinds, total=sum(counts))
