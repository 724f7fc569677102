"""The sorted inbox's merge in the gateway: the position a token records, and a queue too long to sort."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.auth import OperatorPrincipal
from gateway.problems import Problem
from gateway.routes.reviews import ordering
from gateway.routes.reviews.sources import ReviewItem

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _item(kind: str, object_id: str, minutes: int | None) -> ReviewItem:
    at = None if minutes is None else T0 + timedelta(minutes=minutes)
    return ReviewItem(
        kind=kind,
        object_id=object_id,
        title=object_id,
        authors=["hq-operator"],
        submitted_at=at,
        own_work=False,
        can_approve=True,
        can_reject=True,
    )


QUEUES = {
    "content_item": [_item("content_item", "c1", 5), _item("content_item", "c2", 1)],
    "benefit": [_item("benefit", "b1", 5), _item("benefit", "b2", None)],
    "campaign": [_item("campaign", "k1", 3)],
}


def _reader(kind: str, pages: int = 1) -> Any:
    async def read(clients: Any, op: Any, size: int, token: str) -> tuple[list[ReviewItem], str]:
        at = int(token or 0)
        more = str(at + 1) if at + 1 < pages else ""
        return QUEUES.get(kind, []), more

    return read


def _walk(monkeypatch: pytest.MonkeyPatch, sort: str, size: int) -> list[str]:
    monkeypatch.setattr(ordering, "READERS", {k: _reader(k) for k in QUEUES})
    op = OperatorPrincipal(operator_id="hq-reviewer", role="reviewer", branch=None)
    seen: list[str] = []
    token: str | None = ""
    while token is not None:
        page, token = asyncio.run(
            ordering.sorted_page(None, op, kinds=list(QUEUES), sort=sort, page_size=size, page_token=token)  # type: ignore[arg-type]  # the readers are fakes
        )
        seen += [i.object_id for i in page]
    return seen


@pytest.mark.parametrize("size", [1, 2, 3, 10])
def test_the_merged_order_is_by_the_field_then_kind_and_id_at_any_page_size(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    # no time first; at 5 minutes the benefit before the content item (by kind)
    assert _walk(monkeypatch, "submitted_at", size) == ["b2", "c2", "k1", "b1", "c1"]
    assert _walk(monkeypatch, "-submitted_at", size) == ["c1", "b1", "k1", "c2", "b2"]
    assert _walk(monkeypatch, "kind", size) == ["b1", "b2", "k1", "c1", "c2"]


def _raw(values: Any) -> str:
    return "~" + base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "token"),
    [
        ("submitted_at", "campaign:"),
        ("submitted_at", "~!!"),
        ("submitted_at", _raw(["-submitted_at", 1, "benefit", "b1"])),
        ("submitted_at", _raw(["submitted_at", "late", "benefit", "b1"])),
        ("kind", _raw(["kind", 3, "benefit", "b1"])),
        ("kind", _raw(["kind", "benefit", "benefit"])),
        ("kind", "~" + "A" * ordering.TOKEN_LENGTH),
    ],
)
def test_a_token_of_another_sort_or_shape_is_invalid(sort: str, token: str) -> None:
    with pytest.raises(Problem) as refused:
        ordering.position(sort, token)
    assert refused.value.code == "invalid_page_token"


def test_a_queue_longer_than_the_cap_is_refused_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ordering, "QUEUE_CAP", 3)
    monkeypatch.setattr(ordering, "READERS", {"benefit": _reader("benefit", pages=2)})
    op = OperatorPrincipal(operator_id="hq-reviewer", role="reviewer", branch=None)
    with pytest.raises(Problem) as refused:
        asyncio.run(ordering._queue(None, op, "benefit"))  # type: ignore[arg-type]  # a fake reader
    assert refused.value.code == "review_queue_too_long" and refused.value.status == 422
