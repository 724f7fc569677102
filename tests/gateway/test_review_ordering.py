"""The sorted inbox's merge in the gateway over fake services that page their queues as the real ones do
(by time, then id, from an explicit start): the exact order at any page size, a bounded read per page
whatever a queue's length, a decision between pages, and the tokens a sort accepts."""

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
from gateway.routes.reviews.sources import KINDS, ReviewItem, Start

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
OP = OperatorPrincipal(operator_id="hq-reviewer", role="reviewer", branch=None)


def _item(kind: str, object_id: str, seconds: int) -> ReviewItem:
    return ReviewItem(
        kind=kind,
        object_id=object_id,
        title=object_id,
        authors=["hq-operator"],
        submitted_at=T0 + timedelta(seconds=seconds),
        own_work=False,
        can_approve=True,
        can_reject=True,
    )


class Services:
    """Each kind's queue as its service pages it: by (time, id) in the sort's direction after a start."""

    def __init__(self, queues: dict[str, list[ReviewItem]]) -> None:
        self.queues = queues
        self.reads: list[tuple[str, int, int]] = []  # (kind, size asked, items answered)

    def reader(self, kind: str) -> Any:
        async def read(clients: Any, op: Any, size: int, token: str, start: Start | None) -> Any:
            assert start is not None and not token, "a sorted read starts from a position, not a token"
            order = sorted(self.queues.get(kind, []), key=lambda i: (i.submitted_at, i.object_id))
            if start.descending:
                order.reverse()
            if start.after is not None:
                at, object_id = start.after

                def past(i: ReviewItem) -> bool:
                    here = (i.submitted_at, i.object_id)
                    return here < (at, object_id) if start.descending else here > (at, object_id)

                order = [i for i in order if past(i)]
            page = order[: min(size, 100)]  # a service pages at most 100
            self.reads.append((kind, size, len(page)))
            return page, "more" if len(order) > len(page) else ""

        return read

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(ordering, "READERS", {k: self.reader(k) for k in KINDS})


def _page(sort: str, size: int, token: str, kinds: tuple[str, ...] = KINDS) -> tuple[list[str], str | None]:
    page, after = asyncio.run(
        ordering.sorted_page(None, OP, kinds=kinds, sort=sort, page_size=size, page_token=token)  # type: ignore[arg-type]  # the readers are fakes
    )
    return [i.object_id for i in page], after


def _walk(sort: str, size: int, kinds: tuple[str, ...] = KINDS) -> list[str]:
    seen: list[str] = []
    token: str | None = ""
    while token is not None:
        page, token = _page(sort, size, token, kinds)
        assert len(page) <= size
        seen += page
    return seen


def _interleaved() -> dict[str, list[ReviewItem]]:
    """Three items of each kind, the kinds' times interleaved, with ties across kinds and within one."""
    queues: dict[str, list[ReviewItem]] = {k: [] for k in KINDS}
    for n, kind in enumerate(KINDS * 3):
        queues[kind].append(_item(kind, f"{kind}-{n:02d}", n // 2))  # two kinds share each second
    queues["strategy"].append(_item("strategy", "strategy-00", 4))  # ties strategy-08: broken by id
    return queues


def _expected(queues: dict[str, list[ReviewItem]], field: str) -> list[str]:
    items = [i for q in queues.values() for i in q]
    if field == "kind":
        items.sort(key=lambda i: (i.kind, i.submitted_at, i.object_id))
    else:
        items.sort(key=lambda i: (i.submitted_at, i.kind, i.object_id))
    return [i.object_id for i in items]


@pytest.mark.parametrize("field", ["submitted_at", "kind"])
@pytest.mark.parametrize("size", [1, 2, 3, 16, 100])
def test_the_merged_order_is_exact_both_ways_at_any_page_size(
    monkeypatch: pytest.MonkeyPatch, field: str, size: int
) -> None:
    queues = _interleaved()
    Services(queues).install(monkeypatch)
    expected = _expected(queues, field)
    assert len(set(expected)) == 16
    assert _walk(field, size) == expected
    assert _walk(f"-{field}", size) == expected[::-1]
    assert _walk(field, size, kinds=("benefit",)) == [i for i in expected if i.startswith("benefit-")]


def test_a_page_reads_page_size_plus_one_of_each_kind_whatever_the_queues_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queues = {
        k: [_item(k, f"{k}-{n:05d}", (n * 7 + i) % 5000) for n in range(5000)] for i, k in enumerate(KINDS)
    }
    services = Services(queues)
    services.install(monkeypatch)
    token: str | None = ""
    walked: list[str] = []
    for _ in range(3):
        services.reads.clear()
        page, token = _page("-submitted_at", 2, token or "")
        walked += page
        assert token and len(services.reads) <= len(KINDS)
        assert all(size == 3 and answered <= 3 for _, size, answered in services.reads), services.reads
    assert walked == _expected(queues, "submitted_at")[::-1][:6]
    services.reads.clear()
    _page("kind", 100, "")  # the largest page asks each service for no more than it pages
    assert sum(answered for _, _, answered in services.reads) <= len(KINDS) * 100


def test_a_queue_longer_than_a_service_page_is_walked_whole_at_the_largest_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queues = {"benefit": [_item("benefit", f"benefit-{n:03d}", n) for n in range(250)]}
    Services(queues).install(monkeypatch)  # a service answers 100 of the 101 asked, and says it has more
    assert _walk("-submitted_at", 100) == _expected(queues, "submitted_at")[::-1]


def test_an_item_decided_between_pages_moves_nobody_across_the_boundary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queues = _interleaved()
    Services(queues).install(monkeypatch)
    expected = _expected(queues, "submitted_at")
    first, token = _page("submitted_at", 4, "")
    assert first == expected[:4] and token
    decided = {expected[1], expected[6]}  # one already shown, one still ahead
    for kind in KINDS:
        queues[kind] = [i for i in queues[kind] if i.object_id not in decided]
    rest = _walk_from(token)
    assert rest == [i for i in expected[4:] if i not in decided]


def _walk_from(token: str | None) -> list[str]:
    seen: list[str] = []
    while token:
        page, token = _page("submitted_at", 4, token)
        seen += page
    return seen


def _raw(values: Any) -> str:
    return "~" + base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "token"),
    [
        ("submitted_at", "campaign:"),
        ("submitted_at", "~!!"),
        ("submitted_at", _raw(["-submitted_at", 1, "benefit", "b1"])),
        ("submitted_at", _raw(["submitted_at", "late", "benefit", "b1"])),
        ("submitted_at", _raw(["submitted_at", 1, "voucher", "b1"])),
        ("submitted_at", _raw(["submitted_at", 1.5, "benefit", "b1"])),
        ("kind", _raw(["kind", 3, "benefit", "b1"])),
        ("kind", _raw(["kind", "benefit", "benefit", "b1"])),
        ("kind", _raw(["kind", "benefit", 3])),
        ("kind", "~" + "A" * ordering.TOKEN_LENGTH),
    ],
)
def test_a_token_of_another_sort_or_shape_is_invalid(sort: str, token: str) -> None:
    with pytest.raises(Problem) as refused:
        ordering.position(sort, token)
    assert refused.value.code == "invalid_page_token"
