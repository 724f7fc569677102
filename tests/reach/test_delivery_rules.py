"""Delivery rules the engine enforces: caps per local day, contact budget, quiet hours, consent."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from services.reach import counters
from services.reach import policy as policies
from services.reach.engine import ReachEngine
from services.reach.models import ContactCounter, Delivery, ProviderDelivery, SendWindow
from services.reach.peers import Peers
from services.reach.scheduler import run_due
from services.runtime.db import read_session, transaction
from services.runtime.errors import Unavailable
from services.runtime.retention import purge
from tests.reach.conftest import (
    UnreachablePeers,
    event,
    live_strategy,
    local,
    policy,
    sandbox_providers,
    seed_customer,
)

PUSH = {"touchpoints": [{"channel": "push"}]}
NO_QUIET = {"quiet_channels": []}


def _by_event(engine: Engine) -> dict[str, tuple[str, str]]:
    with read_session(engine) as session:
        return {d.trigger_key: (d.status, d.reason) for d in session.exec(select(Delivery))}


async def test_third_push_of_the_day_is_frequency_capped(reach: ReachEngine, reach_db: Engine) -> None:
    policy(reach_db, channels=[{"channel": "push", "daily_cap": 2}], **NO_QUIET)
    seed_customer(reach_db, "cust-1", now=local(2, 9))
    live_strategy(reach_db, **PUSH)
    for i, hour in enumerate((9, 10, 11)):
        await reach.handle_event(
            event("cust-1", f"ev-{i}", at=local(2, hour)), consumer="t", now=local(2, hour)
        )
    assert _by_event(reach_db) == {
        "ev-0": ("delivered", ""),
        "ev-1": ("delivered", ""),
        "ev-2": ("suppressed", "frequency_capped"),
    }


async def test_2359_and_0001_local_count_on_different_days(reach: ReachEngine, reach_db: Engine) -> None:
    policy(reach_db, channels=[{"channel": "push", "daily_cap": 1}], **NO_QUIET)
    seed_customer(reach_db, "cust-1", now=local(2, 9))
    live_strategy(reach_db, **PUSH)
    # 23:59 Shanghai is 15:59 UTC: one UTC day, two local days.
    late, early = local(2, 23, 59), local(3, 0, 1)
    assert late.date() == early.date()
    await reach.handle_event(event("cust-1", "ev-late", at=late), consumer="t", now=late)
    await reach.handle_event(event("cust-1", "ev-early", at=early), consumer="t", now=early)
    await reach.handle_event(
        event("cust-1", "ev-again", at=early), consumer="t", now=early + timedelta(minutes=1)
    )
    assert _by_event(reach_db) == {
        "ev-late": ("delivered", ""),
        "ev-early": ("delivered", ""),
        "ev-again": ("suppressed", "frequency_capped"),
    }


async def test_50_concurrent_triggers_with_cap_3_deliver_exactly_3(any_reach_db: Engine) -> None:
    reach = ReachEngine(
        engine=any_reach_db, peers=Peers(UnreachablePeers().channel), providers=sandbox_providers()
    )
    now = local(2, 12)
    policy(any_reach_db, channels=[{"channel": "push", "daily_cap": 3}], **NO_QUIET)
    seed_customer(any_reach_db, "cust-1", now=now)
    live_strategy(any_reach_db, **PUSH)

    async def consumed(i: int) -> None:
        # as the bus does: a busy database answers Unavailable and the event is delivered again
        for _ in range(20):
            try:
                await reach.handle_event(event("cust-1", f"ev-{i}", at=now), consumer="t", now=now)
                return
            except Unavailable:
                await asyncio.sleep(0.2)
        raise AssertionError(f"ev-{i}: the database stayed busy for 20 deliveries")

    await asyncio.gather(*(consumed(i) for i in range(50)))
    outcomes = list(_by_event(any_reach_db).values())
    assert outcomes.count(("delivered", "")) == 3
    assert outcomes.count(("suppressed", "frequency_capped")) == 47
    with read_session(any_reach_db) as session:
        assert len(list(session.exec(select(ProviderDelivery)))) == 3


async def test_contact_budget_spans_channels(reach: ReachEngine, reach_db: Engine) -> None:
    policy(reach_db, daily_contact_budget=2, **NO_QUIET)
    seed_customer(reach_db, "cust-1", now=local(2, 9))
    live_strategy(reach_db, **PUSH)
    live_strategy(reach_db, touchpoints=[{"channel": "inbox"}])
    await reach.handle_event(event("cust-1", "ev-1", at=local(2, 9)), consumer="t", now=local(2, 9))
    await reach.handle_event(event("cust-1", "ev-2", at=local(2, 10)), consumer="t", now=local(2, 10))
    statuses = sorted(_by_event_all(reach_db))
    assert statuses == [
        ("delivered", ""),
        ("delivered", ""),
        ("suppressed", "contact_budget_exhausted"),
        ("suppressed", "contact_budget_exhausted"),
    ]


def _by_event_all(engine: Engine) -> list[tuple[str, str]]:
    with read_session(engine) as session:
        return [(d.status, d.reason) for d in session.exec(select(Delivery))]


async def test_quiet_hours_hold_until_0800_and_drop_what_expires(
    reach: ReachEngine, reach_db: Engine
) -> None:
    seed_customer(reach_db, "cust-1", now=local(2, 9))
    live_strategy(reach_db, **PUSH, validity_s=86400)
    live_strategy(reach_db, **PUSH, validity_s=9.5 * 3600, trigger={"event_type": "card_spend"})
    at = local(2, 21, 30)
    await reach.handle_event(event("cust-1", "ev-salary", at=at), consumer="t", now=at)
    # Valid until 07:00, before quiet hours end: dropped with a reason, never sent at night.
    await reach.handle_event(event("cust-1", "ev-spend", at=at, type="card_spend"), consumer="t", now=at)
    assert _by_event(reach_db) == {
        "ev-salary": ("held", "quiet_hours"),
        "ev-spend": ("dropped", "expired_in_quiet_hours"),
    }
    await run_due(reach, now=local(3, 7, 59))
    assert _by_event(reach_db)["ev-salary"] == ("held", "quiet_hours")
    await run_due(reach, now=local(3, 8, 0))
    assert _by_event(reach_db)["ev-salary"] == ("delivered", "")
    with read_session(reach_db) as session:
        [sent] = session.exec(select(Delivery).where(Delivery.trigger_key == "ev-salary"))
    assert sent.delivered_at == local(3, 8, 0) and sent.counted_day == "2026-03-03"


async def test_inbox_is_not_held_at_night(reach: ReachEngine, reach_db: Engine) -> None:
    seed_customer(reach_db, "cust-1", now=local(2, 9))
    live_strategy(reach_db)
    await reach.handle_event(event("cust-1", "ev-1", at=local(2, 23)), consumer="t", now=local(2, 23))
    assert _by_event(reach_db) == {"ev-1": ("delivered", "")}


async def test_marketing_sms_opt_out_keeps_transactional_sms(reach: ReachEngine, reach_db: Engine) -> None:
    seed_customer(reach_db, "cust-1", now=local(2, 9))
    policies.set_preference(
        engine=reach_db, customer_id="cust-1", channel="sms", purpose="all", opted_in=False, app_id="mbank"
    )
    live_strategy(reach_db, touchpoints=[{"channel": "sms"}])
    live_strategy(
        reach_db,
        kind="transactional",
        purpose="security",
        touchpoints=[{"channel": "sms"}],
        trigger={"event_type": "new_device_login"},
    )
    at = local(2, 23)  # even in quiet hours: a security alert goes out at once
    await reach.handle_event(event("cust-1", "ev-mkt", at=at), consumer="t", now=at)
    await reach.handle_event(event("cust-1", "ev-sec", at=at, type="new_device_login"), consumer="t", now=at)
    assert _by_event(reach_db) == {"ev-mkt": ("suppressed", "no_consent"), "ev-sec": ("delivered", "")}
    with read_session(reach_db) as session:
        [record] = session.exec(select(ProviderDelivery))
    assert record.channel == "sms" and record.provider == "sandbox"


async def test_fallback_to_the_next_touchpoint_with_consent(reach: ReachEngine, reach_db: Engine) -> None:
    seed_customer(reach_db, "cust-1", now=local(2, 9))
    policies.set_preference(
        engine=reach_db,
        customer_id="cust-1",
        channel="push",
        purpose="offers",
        opted_in=False,
        app_id="mbank",
    )
    live_strategy(reach_db, touchpoints=[{"channel": "push"}, {"channel": "inbox"}])
    await reach.handle_event(event("cust-1", "ev-1", at=local(2, 10)), consumer="t", now=local(2, 10))
    with read_session(reach_db) as session:
        [d] = session.exec(select(Delivery))
    assert (d.status, d.channel) == ("delivered", "inbox")


def test_a_send_window_admits_exactly_the_rate_under_concurrency(any_reach_db: Engine) -> None:
    def take(_: int) -> bool:
        with transaction(any_reach_db) as session:
            return counters.take_send_slot(session, channel="sms", second=1_900_000_000, rate=5)

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(take, range(20)))
    assert taken.count(True) == 5


async def test_the_send_rate_holds_across_replicas_and_nothing_is_dropped(reach_db: Engine) -> None:
    policy(reach_db, channels=[{"channel": "push", "rate_per_second": 4}])
    replicas = [
        ReachEngine(engine=reach_db, peers=Peers(UnreachablePeers().channel), providers=sandbox_providers())
        for _ in range(2)
    ]
    await asyncio.gather(*(replicas[i % 2]._throttle("push") for i in range(12)))
    with read_session(reach_db) as session:
        windows = [w.count for w in session.exec(select(SendWindow).where(SendWindow.channel == "push"))]
    assert sum(windows) == 12  # every send went out, none was dropped
    assert max(windows) <= 4 and len(windows) >= 3  # never more than the rate in any second


def test_old_send_windows_and_contact_counts_are_purged(any_reach_db: Engine) -> None:
    now = local(10, 12)
    second = int(now.timestamp())
    with transaction(any_reach_db) as session:
        for age_s in (7200, 3601, 10):
            session.add(SendWindow(channel="push", second=second - age_s, count=1))
        for age_days in (5, 4, 1, 0):
            day = (now - timedelta(days=age_days)).date().isoformat()
            session.add(ContactCounter(customer_id="cust-1", channel="push", day=day, count=1))
    windows, contacts = counters.RETENTION
    assert purge(any_reach_db, windows, now=now) == 2
    assert purge(any_reach_db, contacts, now=now) == 2
    with read_session(any_reach_db) as session:
        assert [w.second for w in session.exec(select(SendWindow))] == [second - 10]
        assert len(session.exec(select(ContactCounter)).all()) == 2
