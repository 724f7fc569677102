"""The serving cache: a stale snapshot serves on while one thread rebuilds it, a withdrawn item is never
served from one, and what ServeSlot sends is the item as rendered for the customer's locale."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc
from sqlalchemy import event
from sqlalchemy.engine import Engine

from services.content import review
from services.content.__main__ import wire
from services.content.serving import Viewer, serve_slot
from services.content.slot_cache import SlotCache
from tests.content.conftest import AUTHOR, pb_actor, publish_via_grpc, published_item, texts
from tests.content.test_serving import NOON, SLOT, place, setup_slot
from tests.support.inprocess import serve

REFRESH_THREAD = "slot-refresh"


def served_placement(engine: Engine, cache: SlotCache) -> str | None:
    served = serve_slot(
        engine=engine,
        cache=cache,
        slot_key=SLOT,
        viewer=Viewer(customer_id="c1"),
        locales=["en"],
        now=NOON,
        rng=random.Random(1),
    )
    return served.placement_id if served else None


@contextmanager
def held_refresh(engine: Engine, *, phase: str, table: str) -> Iterator[threading.Event]:
    """Hold the background rebuild on the real database at a statement reading `table` (before or
    after it runs); yields the event set once the rebuild is held there. Released on exit (the
    listener stays, inert: removing it could race with the rebuild's thread iterating listeners)."""
    reached, release = threading.Event(), threading.Event()

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        refreshing = threading.current_thread().name.startswith(REFRESH_THREAD)
        if refreshing and f"FROM {table}" in statement and not release.is_set():
            reached.set()
            release.wait(10)

    event.listen(engine, phase, hold)
    try:
        yield reached
    finally:
        release.set()


def wait_current(cache: SlotCache) -> None:
    deadline = time.monotonic() + 10
    while cache.peek(SLOT) is None:
        assert time.monotonic() < deadline, "the background rebuild never finished"
        time.sleep(0.01)


def test_a_stale_snapshot_serves_without_waiting_while_a_thread_rebuilds_it(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "first", {"standard": texts("First")})
    published_item(engine, "second", {"standard": texts("Second")})
    place(engine, "p-first", "first", priority=1)
    cache = SlotCache(engine)
    assert served_placement(engine, cache) == "p-first"
    place(engine, "p-second", "second", priority=2)
    assert cache.invalidate_slot(SLOT) == [SLOT]
    previous, current = cache.lookup(SLOT)
    assert previous is not None and not current
    with held_refresh(engine, phase="before_cursor_execute", table="placement") as held:
        cache.refresh_in_background(SLOT)
        cache.refresh_in_background(SLOT)  # one rebuild per slot at a time
        assert held.wait(10)
        started = time.monotonic()
        assert [served_placement(engine, cache) for _ in range(20)] == ["p-first"] * 20
        assert time.monotonic() - started < 2  # served from the previous version, not after the rebuild
        assert [t.name for t in threading.enumerate()].count(f"{REFRESH_THREAD} {SLOT}") == 1
    wait_current(cache)
    assert served_placement(engine, cache) == "p-second"


def old_above_other(engine: Engine) -> SlotCache:
    """The slot with item "old" placed above "other", served once (the snapshot holds "old")."""
    setup_slot(engine)
    published_item(engine, "old", {"standard": texts("Old")})
    published_item(engine, "other", {"standard": texts("Other")})
    place(engine, "p-old", "old", priority=5)
    place(engine, "p-other", "other", priority=1)
    cache = SlotCache(engine)
    assert served_placement(engine, cache) == "p-old"
    return cache


def test_an_archived_item_is_never_served_from_a_stale_snapshot(engine: Engine) -> None:
    cache = old_above_other(engine)
    assert cache.invalidate_item("old") == [SLOT]  # say a new version: the old one may serve on meanwhile
    assert cache.lookup(SLOT)[0] is not None
    review.archive_item(engine=engine, actor=AUTHOR, item_id="old", reason="withdrawn")
    assert cache.invalidate_item("old", withdrawn=True) == [SLOT]
    assert cache.lookup(SLOT) == (None, False)  # dropped: the next serve waits for a fresh build
    assert served_placement(engine, cache) == "p-other"


def test_a_build_that_read_an_item_before_its_withdrawal_is_not_kept(engine: Engine) -> None:
    cache = old_above_other(engine)
    cache.invalidate_slot(SLOT)
    with held_refresh(engine, phase="after_cursor_execute", table="content_item") as held:
        cache.refresh_in_background(SLOT)
        assert held.wait(10)  # the rebuild has read "old" as published
        review.archive_item(engine=engine, actor=AUTHOR, item_id="old", reason="withdrawn")
        cache.invalidate_item("old", withdrawn=True)
        assert cache.lookup(SLOT) == (None, False)
    deadline = time.monotonic() + 10
    while any(t.name.startswith(REFRESH_THREAD) for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert cache.lookup(SLOT) == (None, False)  # the overlapping build was not kept
    assert served_placement(engine, cache) == "p-other"


async def test_served_item_follows_each_requests_locales(tmp_path: Path, nats_url: str) -> None:
    """The rendered item is made once per item, edition and locale: each request still gets its own."""
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = content_pb2_grpc.ContentServiceStub(channel)
        hant = texts("Hello", "Body", zh_title="你好")
        hant["texts"]["zh-Hant"] = {"title": "妳好", "body": "內文"}
        await publish_via_grpc(stub, "hello", {"standard": hant, "elderly": texts("Hello, large")})
        await stub.CreateSlot(
            pb.CreateSlotRequest(
                actor=pb_actor(AUTHOR), slot=pb.Slot(app_id="mbank", position="home/top-banner")
            ),
            timeout=5,
        )
        await stub.CreatePlacement(
            pb.CreatePlacementRequest(
                actor=pb_actor(AUTHOR),
                placement=pb.Placement(placement_id="p-hello", slot_key=SLOT, item_id="hello"),
            ),
            timeout=5,
        )

        async def shown(locales: list[str], edition: str = "") -> tuple[str, str, str, str]:
            viewer = pb.Viewer(customer_id="cust-1", edition=edition)
            resp = await stub.ServeSlot(
                pb.ServeSlotRequest(slot_key=SLOT, viewer=viewer, locales=locales), timeout=5
            )
            assert resp.served and resp.placement_id == "p-hello"
            return resp.item.edition, resp.item.locale, resp.item.title, resp.item.media[0].alt

        for _ in range(2):  # the second round comes from the cache
            assert await shown(["zh-TW", "en"]) == ("standard", "zh-Hant", "妳好", "Hello")
            assert await shown(["en-GB"]) == ("standard", "en", "Hello", "Hello")
            assert await shown(["zh-CN"]) == ("standard", "zh-Hans", "你好", "Hello")
            assert await shown(["fr-FR"]) == ("standard", "zh-Hans", "你好", "Hello")
            assert await shown(["en"], "elderly") == ("elderly", "en", "Hello, large", "Hello, large")
        await asyncio.gather(*(shown(["en"]) for _ in range(20)))
