"""Serving rules on a real SQLite database with a controlled clock (Asia/Shanghai windows)."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from services.content import catalogue, review, slots
from services.content.serving import Viewer, serve_slot
from services.content.slot_cache import SlotCache
from services.content.slots import PlacementSpec
from services.runtime.errors import NotFound
from tests.content.conftest import AUTHOR, REVIEWER, published_item, texts

SH = ZoneInfo("Asia/Shanghai")
SLOT = "mbank/home/top-banner"
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=SH)


def at(hour: int, minute: int = 0, day: int = 26) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def setup_slot(engine: Engine) -> None:
    slots.create_slot(engine=engine, actor=AUTHOR, app_id="mbank", position="home/top-banner", editions=[])


def place(engine: Engine, placement_id: str, item_id: str, **kwargs: Any) -> None:
    slots.create_placement(
        engine=engine,
        actor=AUTHOR,
        placement_id=placement_id,
        spec=PlacementSpec(slot_key=SLOT, item_id=item_id, **kwargs),
    )


def serve(
    engine: Engine,
    cache: SlotCache,
    viewer: Viewer,
    *,
    now: datetime = NOON,
    locales: list[str] | None = None,
    rng: random.Random | None = None,
):
    return serve_slot(
        engine=engine,
        cache=cache,
        slot_key=SLOT,
        viewer=viewer,
        locales=locales or ["en"],
        now=now,
        rng=rng or random.Random(7),
    )


def test_daily_window_in_shanghai_time(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "office-hours", {"standard": texts("Office hours")})
    published_item(engine, "always", {"standard": texts("Always")})
    place(engine, "p-window", "office-hours", priority=10, daily_start="09:00", daily_end="18:00")
    place(engine, "p-always", "always", priority=0)
    cache, viewer = SlotCache(engine), Viewer(customer_id="c1")
    served = {
        t: serve(engine, cache, viewer, now=t).placement_id for t in (at(8, 59), at(9), at(17, 59), at(18))
    }
    assert served == {at(8, 59): "p-always", at(9): "p-window", at(17, 59): "p-window", at(18): "p-always"}
    # 09:30 Shanghai is 01:30 UTC: the window follows Shanghai time whatever zone `now` is in
    assert serve(engine, cache, viewer, now=at(9, 30).astimezone(ZoneInfo("UTC"))).placement_id == "p-window"


def test_absolute_window_starts_and_ends(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "campaign", {"standard": texts("Campaign")})
    place(engine, "p-campaign", "campaign", starts_at=at(10), ends_at=at(10, day=27))
    cache, viewer = SlotCache(engine), Viewer(customer_id="c1")
    assert serve(engine, cache, viewer, now=at(9, 59)) is None
    assert serve(engine, cache, viewer, now=at(10)).placement_id == "p-campaign"
    assert serve(engine, cache, viewer, now=at(10, day=27)) is None


def test_elderly_customer_gets_the_elderly_variant(engine: Engine) -> None:
    setup_slot(engine)
    published_item(
        engine, "savings", {"standard": texts("Save more"), "elderly": texts("Save more, large print")}
    )
    place(engine, "p1", "savings")
    cache = SlotCache(engine)
    elderly = serve(engine, cache, Viewer(customer_id="c1", edition="elderly"))
    assert (elderly.item.edition, elderly.item.title) == ("elderly", "Save more, large print")
    student = serve(engine, cache, Viewer(customer_id="c2", edition="student"))
    assert (student.item.edition, student.item.title) == ("standard", "Save more")


def test_missing_variant_falls_back_only_where_allowed_else_the_fallback_item(engine: Engine) -> None:
    setup_slot(engine)
    published_item(
        engine,
        "private",
        {"standard": texts("Standard"), "private_banking": texts("Private")},
        fallback=False,
    )
    published_item(engine, "generic", {"standard": texts("Generic")})
    place(engine, "p-private", "private", priority=5)
    cache = SlotCache(engine)
    assert serve(engine, cache, Viewer(customer_id="c1", edition="rural")) is None
    assert serve(engine, cache, Viewer(customer_id="c1", edition="private_banking")).item.title == "Private"
    slots.update_placement(
        engine=engine,
        actor=AUTHOR,
        placement_id="p-private",
        spec=PlacementSpec(slot_key=SLOT, item_id="private", fallback_item_id="generic", priority=5),
    )
    cache.invalidate_slot(SLOT)
    rural = serve(engine, cache, Viewer(customer_id="c1", edition="rural"))
    assert (rural.placement_id, rural.item.item_id, rural.item.title) == ("p-private", "generic", "Generic")


def test_variant_of_an_unpublished_version_is_never_served(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "loan", {"standard": texts("Loan v1")})
    place(engine, "p1", "loan")
    catalogue.edit_item(
        engine=engine,
        actor=AUTHOR,
        item_id="loan",
        variants={"standard": texts("Loan v2"), "elderly": texts("Loan v2 elderly")},
    )
    cache = SlotCache(engine)
    assert serve(engine, cache, Viewer(customer_id="c1", edition="elderly")).item.title == "Loan v1"
    review.submit_item(engine=engine, actor=AUTHOR, item_id="loan")
    review.approve_item(engine=engine, actor=REVIEWER, item_id="loan", overrides={})
    assert serve(engine, cache, Viewer(customer_id="c1", edition="elderly")).item.title == "Loan v1"
    review.publish_item(engine=engine, actor=AUTHOR, item_id="loan")
    cache.invalidate_item("loan")
    assert serve(engine, cache, Viewer(customer_id="c1", edition="elderly")).item.title == "Loan v2 elderly"


def test_weights_one_to_three_over_ten_thousand_serves(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "item-a", {"standard": texts("A")})
    published_item(engine, "item-b", {"standard": texts("B")})
    place(engine, "p-a", "item-a", priority=3, weight=1)
    place(engine, "p-b", "item-b", priority=3, weight=3)
    cache, rng = SlotCache(engine), random.Random()
    counts = Counter(
        serve(engine, cache, Viewer(customer_id=f"c{i}"), rng=rng).placement_id for i in range(10_000)
    )
    assert abs(counts["p-a"] / 10_000 - 0.25) <= 0.02
    assert abs(counts["p-b"] / 10_000 - 0.75) <= 0.02


def test_cap_of_three_per_day_gives_another_item_on_the_fourth_serve(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "capped", {"standard": texts("Capped")})
    published_item(engine, "other", {"standard": texts("Other")})
    place(engine, "p-capped", "capped", priority=10, cap_per_day=3)
    place(engine, "p-other", "other", priority=1)
    cache, alice = SlotCache(engine), Viewer(customer_id="alice")
    served = [serve(engine, cache, alice).item.item_id for _ in range(4)]
    assert served == ["capped", "capped", "capped", "other"]
    assert serve(engine, cache, Viewer(customer_id="bob")).item.item_id == "capped"
    # the day turns at midnight Shanghai time, not UTC
    assert serve(engine, cache, alice, now=at(23, 59)).item.item_id == "other"
    assert serve(engine, cache, alice, now=at(0, 0, day=27)).item.item_id == "capped"


def test_cap_holds_under_concurrent_serves(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "capped", {"standard": texts("Capped")})
    published_item(engine, "other", {"standard": texts("Other")})
    place(engine, "p-capped", "capped", priority=10, cap_per_day=3)
    place(engine, "p-other", "other", priority=1)
    cache, alice = SlotCache(engine), Viewer(customer_id="alice")
    with ThreadPoolExecutor(max_workers=8) as pool:
        items = list(pool.map(lambda _: serve(engine, cache, alice).item.item_id, range(24)))
    assert Counter(items) == {"capped": 3, "other": 21}


def test_targeting_by_assurance_aum_branch_and_tags(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "vip", {"standard": texts("VIP")})
    published_item(engine, "base", {"standard": texts("Base")})
    place(
        engine,
        "p-vip",
        "vip",
        priority=9,
        targeting={
            "min_assurance_level": 2,
            "aum_tiers": ["gold", "diamond"],
            "branches": ["shenzhen"],
            "tags": ["traveller", "investor"],
        },
    )
    place(engine, "p-base", "base", priority=0)
    cache = SlotCache(engine)
    fits = Viewer(
        customer_id="c", assurance_level=2, aum_tier="gold", branch="shenzhen", tags=frozenset({"investor"})
    )
    assert serve(engine, cache, fits).item.item_id == "vip"
    for misfit in (
        Viewer(
            customer_id="c",
            assurance_level=1,
            aum_tier="gold",
            branch="shenzhen",
            tags=frozenset({"investor"}),
        ),
        Viewer(
            customer_id="c",
            assurance_level=2,
            aum_tier="silver",
            branch="shenzhen",
            tags=frozenset({"investor"}),
        ),
        Viewer(
            customer_id="c",
            assurance_level=2,
            aum_tier="gold",
            branch="guangzhou",
            tags=frozenset({"investor"}),
        ),
        Viewer(
            customer_id="c",
            assurance_level=2,
            aum_tier="gold",
            branch="shenzhen",
            tags=frozenset({"student"}),
        ),
    ):
        assert serve(engine, cache, misfit).item.item_id == "base"


def test_edition_targeting_and_locale_fallback(engine: Engine) -> None:
    setup_slot(engine)
    variant = texts("Hello", "Body", zh_title="你好")
    variant["texts"]["zh-Hant"] = {"title": "妳好", "body": "內文"}
    published_item(engine, "hello", {"standard": variant})
    place(engine, "p-hello", "hello", targeting={"editions": ["standard", "elderly"]})
    cache = SlotCache(engine)
    viewer = Viewer(customer_id="c")
    assert serve(engine, cache, viewer, locales=["zh-TW", "en"]).item.title == "妳好"
    assert serve(engine, cache, viewer, locales=["zh-CN"]).item.title == "你好"
    assert serve(engine, cache, viewer, locales=["fr-FR", "en-GB"]).item.title == "Hello"
    assert serve(engine, cache, viewer, locales=["fr-FR"]).item.locale == "zh-Hans"
    assert serve(engine, cache, Viewer(customer_id="c", edition="student")) is None


def test_archived_item_is_not_served(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "old", {"standard": texts("Old")})
    place(engine, "p-old", "old")
    cache = SlotCache(engine)
    assert serve(engine, cache, Viewer(customer_id="c")).item.item_id == "old"
    review.archive_item(engine=engine, actor=AUTHOR, item_id="old", reason="campaign over")
    cache.invalidate_item("old")
    assert serve(engine, cache, Viewer(customer_id="c"), now=NOON + timedelta(minutes=1)) is None


def test_branch_placements_compete_with_head_office_ones_by_priority(engine: Engine) -> None:
    setup_slot(engine)
    for item_id in ("hq-item", "sz-item", "sz-top", "gz-item"):
        published_item(engine, item_id, {"standard": texts(item_id)})
    place(engine, "p-hq", "hq-item", priority=5)
    place(engine, "p-sz", "sz-item", priority=5, targeting={"branches": ["shenzhen"]})
    place(engine, "p-gz", "gz-item", priority=7, targeting={"branches": ["guangzhou", "foshan"]})
    cache, rng = SlotCache(engine), random.Random(3)
    assert serve(engine, cache, Viewer(customer_id="c", branch="guangzhou")).placement_id == "p-gz"
    assert serve(engine, cache, Viewer(customer_id="c", branch="foshan")).placement_id == "p-gz"
    assert serve(engine, cache, Viewer(customer_id="c", branch="")).placement_id == "p-hq"
    shenzhen = Counter(
        serve(engine, cache, Viewer(customer_id="c", branch="shenzhen"), rng=rng).placement_id
        for _ in range(400)
    )
    assert set(shenzhen) == {"p-hq", "p-sz"} and min(shenzhen.values()) > 120
    place(engine, "p-sz-top", "sz-top", priority=9, targeting={"branches": ["shenzhen"]})
    cache.invalidate_slot(SLOT)
    assert serve(engine, cache, Viewer(customer_id="c", branch="shenzhen")).placement_id == "p-sz-top"
    assert serve(engine, cache, Viewer(customer_id="c", branch="guangzhou")).placement_id == "p-gz"


def test_a_stale_snapshot_is_rebuilt_from_the_database(engine: Engine) -> None:
    setup_slot(engine)
    published_item(engine, "first", {"standard": texts("First")})
    place(engine, "p-first", "first", priority=1)
    ticks = [100.0]
    cache = SlotCache(engine, max_age_s=60, clock=lambda: ticks[0])
    assert serve(engine, cache, Viewer(customer_id="c")).placement_id == "p-first"
    published_item(engine, "second", {"standard": texts("Second")})
    place(engine, "p-second", "second", priority=2)  # no invalidation: only the age makes it visible
    ticks[0] += 60
    assert serve(engine, cache, Viewer(customer_id="c")).placement_id == "p-first"
    ticks[0] += 0.001
    assert serve(engine, cache, Viewer(customer_id="c")).placement_id == "p-second"
    assert serve_or_none(engine, cache, "mbank/home/none") == "slot_not_found"


def serve_or_none(engine: Engine, cache: SlotCache, slot_key: str) -> str:
    try:
        serve_slot(
            engine=engine,
            cache=cache,
            slot_key=slot_key,
            viewer=Viewer(customer_id="c"),
            locales=[],
            now=NOON,
            rng=random.Random(),
        )
    except NotFound as exc:
        return exc.reason
    return "served"
