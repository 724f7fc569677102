"""Click counters are exact when a batch of clicks is stored at once: the funnel_day counters (added
once per partner/campaign/day when the batch commits) and the partners' flood counts equal a recount
from the stored click rows, after a batch with a duplicated event, a click that fails alone (its
savepoint rolled back, its counts with it), a redelivery of the whole batch and a transaction that
rolls back; and the same over NATS with the running service."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lattice.conversion.v1 import events_pb2
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.conversion.aggregates import bump_at_commit
from services.conversion.config import ConversionSettings
from services.conversion.events import CLICK_SUBJECT, Appliers
from services.runtime.bus import EVENT_ID_HEADER, EVENT_TYPE_HEADER, MSG_ID_HEADER, Delivery
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import make_engine, migrate, read_session, transaction
from services.runtime.exactly_once import idempotent_batch
from tests.conversion.conftest import days_around, eventually, running_conversion, unique
from tests.support.databases import DATABASE_KINDS, fresh_database_url

COUNTED = ("clicks", "views", "rejected", "flooded")


@pytest.fixture(params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """SQLite; PostgreSQL too under `make test-postgres` (its own upserts and savepoints)."""
    with fresh_database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine, "conversion")
        yield engine
        engine.dispose()


def _click(
    *,
    partner: str,
    campaign: str,
    at: datetime,
    device: str = "",
    ip_class: str = "",
    attributable: bool = True,
    interaction: str = "click",
    click_id: str = "",
) -> events_pb2.ClickRecorded:
    return events_pb2.ClickRecorded(
        click_id=click_id or uuid.uuid4().hex,
        link_code="L1",
        partner_id=partner,
        campaign_id=campaign,
        scene="home",
        device_id=device,
        attributable=attributable,
        rejection="" if attributable else "expired",
        occurred_at=to_timestamp(at),
        ip_class=ip_class,
        interaction=interaction,
    )


def _delivery(event: events_pb2.ClickRecorded, *, event_id: str = "", delivered: int = 1) -> Delivery:
    return Delivery(
        subject=CLICK_SUBJECT,
        data=event.SerializeToString(),
        event_id=event_id or event.click_id,
        event_type=event.DESCRIPTOR.full_name,
        num_delivered=delivered,
    )


def _burst(partner: str, campaigns: tuple[str, str], now: datetime) -> list[events_pb2.ClickRecorded]:
    """Clicks of two campaigns over two days: a device flooding (its 4th to 6th click), views,
    rejected clicks, clicks without a device or an IP class."""
    yesterday = now - timedelta(days=1)
    flooder = uuid.uuid4().hex
    clicks = [
        _click(partner=partner, campaign=campaigns[0], at=now + timedelta(seconds=i), device=flooder)
        for i in range(6)
    ]
    clicks += [
        _click(
            partner=partner,
            campaign=campaigns[i % 2],
            at=(yesterday if i % 3 else now) + timedelta(seconds=i),
            device=uuid.uuid4().hex if i % 4 else "",
            ip_class=f"ipc-{uuid.uuid4().hex[:8]}" if i % 5 else "",
            attributable=i % 7 != 0,
            interaction="view" if i % 6 == 0 else "click",
        )
        for i in range(30)
    ]
    return clicks


def _counters(engine: Engine, partner: str) -> dict[tuple[str, str], dict[str, int]]:
    with read_session(engine) as session:
        rows = session.execute(
            text(
                "SELECT campaign_id, day, clicks, views, rejected, flooded FROM funnel_day"
                " WHERE partner_id = :p"
            ),
            {"p": partner},
        )
        return {(r[0], r[1]): dict(zip(COUNTED, r[2:], strict=True)) for r in rows}


def _recount(engine: Engine, partner: str, mode: str) -> dict[tuple[str, str], dict[str, int]]:
    """The counters as the click rows say they should be (the flood guard enforcing)."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    with read_session(engine) as session:
        rows = session.execute(
            text(
                "SELECT campaign_id, day, attributable, rejection, interaction FROM touchpoint"
                " WHERE partner_id = :p"
            ),
            {"p": partner},
        )
        for campaign, day, attributable, rejection, interaction in rows:
            c = counts.setdefault((campaign, day), Counter())
            if rejection == "click_flood":
                c["flooded"] += 1
            elif not attributable:
                c["rejected"] += 1
            else:
                c["views" if interaction == "view" else "clicks"] += 1
    assert mode == "enforce"
    return {key: {name: c[name] for name in COUNTED} for key, c in counts.items()}


def _flood_clicks(engine: Engine, partner: str) -> int:
    with read_session(engine) as session:
        found = session.execute(
            text("SELECT flood_clicks FROM partner_flag WHERE partner_id = :p"), {"p": partner}
        ).scalar()
        return int(found or 0)


def _stored(engine: Engine, partner: str) -> int:
    with read_session(engine) as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM touchpoint WHERE partner_id = :p"), {"p": partner}
            ).scalar_one()
        )


async def test_counters_equal_a_recount_after_duplicates_a_failed_click_and_a_redelivery(
    engine: Engine,
) -> None:
    settings = ConversionSettings(flood_max_clicks=3, flood_window_s=60, flood_guard_mode="enforce")
    handle = idempotent_batch(engine, "conversion-clicks", Appliers(settings, 5).click)
    partner, now = unique("p"), utcnow()
    campaigns = (unique("c"), unique("c"))
    clicks = _burst(partner, campaigns, now)
    batch = [_delivery(c) for c in clicks]
    batch.insert(9, _delivery(clicks[3]))  # the same event twice in one batch
    # a click id stored already, under another event id: its insert fails, its savepoint (and what it
    # would have counted) rolls back; the rest of the batch commits
    reused = _click(partner=partner, campaign=campaigns[1], at=now, click_id=clicks[12].click_id)
    batch.insert(20, _delivery(reused, event_id=uuid.uuid4().hex))

    upserts: list[str] = []

    def count_upserts(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.startswith(("INSERT INTO funnel_day", "INSERT INTO partner_flag")):
            upserts.append(statement.split()[2])

    event.listen(engine, "before_cursor_execute", count_upserts)
    outcomes = await handle(batch)
    event.remove(engine, "before_cursor_execute", count_upserts)

    # the batch's counters in one statement (four rows), its partner's flood count in another
    assert sorted(upserts) == ["funnel_day", "partner_flag"]

    assert [type(o) for o in outcomes if o is not None] == [IntegrityError]
    assert _stored(engine, partner) == len(clicks)
    counters = _counters(engine, partner)
    assert counters == _recount(engine, partner, "enforce")
    totals = Counter[str]()
    for c in counters.values():
        totals.update(c)
    assert totals["flooded"] == 3  # the flooding device's 4th to 6th click
    assert sum(totals.values()) == len(clicks)
    assert _flood_clicks(engine, partner) == 3
    assert len(counters) == 4  # two campaigns x two days: one row each

    # the whole batch again (acks lost), with new clicks: only the new ones count
    more = _burst(partner, campaigns, now + timedelta(minutes=5))
    again = [_delivery(c, delivered=2) for c in clicks] + [_delivery(c) for c in more]
    assert all(o is None for o in await handle(again))
    assert _stored(engine, partner) == len(clicks) + len(more)
    assert _counters(engine, partner) == _recount(engine, partner, "enforce")
    assert _flood_clicks(engine, partner) == 6

    # a transaction that adds and then rolls back leaves nothing, in this or a later transaction
    row = (campaigns[0], now.date().isoformat())
    before = _counters(engine, partner)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        bump_at_commit(session, partner_id=partner, campaign_id=row[0], day=row[1], clicks=100)
        raise RuntimeError("rolled back")
    with transaction(engine) as session:
        bump_at_commit(session, partner_id=partner, campaign_id=row[0], day=row[1], clicks=1)
        # a savepoint rolled back takes away what was added within it (and in savepoints inside it)
        with pytest.raises(RuntimeError), session.begin_nested():
            bump_at_commit(session, partner_id=partner, campaign_id=row[0], day=row[1], views=50)
            with session.begin_nested():
                bump_at_commit(session, partner_id=partner, campaign_id=row[0], day=row[1], clicks=50)
            raise RuntimeError("this savepoint rolls back")
        with session.begin_nested():  # a savepoint released keeps its additions
            bump_at_commit(session, partner_id=partner, campaign_id=row[0], day=row[1], clicks=2, views=1)
    after = _counters(engine, partner)
    assert after[row]["clicks"] == before[row]["clicks"] + 3
    assert after[row]["views"] == before[row]["views"] + 1


def _savepoints(engine: Engine) -> tuple[list[str], Callable[[], None]]:
    """The SAVEPOINT statements run on `engine` from now on, and how to stop listening."""
    seen: list[str] = []

    def note(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.startswith("SAVEPOINT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return seen, lambda: event.remove(engine, "before_cursor_execute", note)


async def test_a_failure_mid_batch_redoes_it_click_by_click_and_counts_each_click_once(
    engine: Engine,
) -> None:
    """The batch is first applied in one savepoint; a click raising mid-batch (after earlier clicks
    stored their rows and added their counts) rolls that attempt back whole and the batch is applied
    again with a savepoint per click: nothing of the first attempt is counted twice."""
    settings = ConversionSettings(flood_max_clicks=3, flood_window_s=60, flood_guard_mode="enforce")
    appliers = Appliers(settings, 5)
    partner, now = unique("p"), utcnow()
    campaigns = (unique("c"), unique("c"))
    clicks = _burst(partner, campaigns, now)
    flaky = {clicks[25].click_id}  # fails on its first try only: the redo stores it
    broken = {clicks[30].click_id}  # fails every time: its outcome, the rest of the batch stored

    def click(session: Session, delivery: Delivery) -> None:
        appliers.click(session, delivery)  # its row and its counts first, then the failure
        if delivery.event_id in broken or delivery.event_id in flaky:
            flaky.discard(delivery.event_id)
            raise RuntimeError(f"click {delivery.event_id} failed")

    handle = idempotent_batch(engine, "conversion-clicks", click)
    clean = [_delivery(c) for c in _burst(partner, campaigns, now - timedelta(days=2))]
    savepoints, stop = _savepoints(engine)
    assert all(o is None for o in await handle(clean))
    clean_savepoints = len(savepoints)
    assert clean_savepoints <= 2  # the batch's one (and the group committer's unit on SQLite)
    outcomes = await handle([_delivery(c) for c in clicks])
    stop()
    assert len(savepoints) == 2 * clean_savepoints + len(clicks)  # the redo: one per click
    assert [type(o) for o in outcomes] == [type(None)] * 30 + [RuntimeError] + [type(None)] * 5
    assert _stored(engine, partner) == len(clean) + len(clicks) - 1
    assert _counters(engine, partner) == _recount(engine, partner, "enforce")
    assert _flood_clicks(engine, partner) == 6  # the flooding device's 4th to 6th click, of each burst

    # the broken click once mended is stored and counted once, its batch-mates already processed
    broken.clear()
    assert all(o is None for o in await handle([_delivery(c, delivered=2) for c in clicks]))
    assert _stored(engine, partner) == len(clean) + len(clicks)
    assert _counters(engine, partner) == _recount(engine, partner, "enforce")


async def test_counters_over_nats_equal_a_recount_after_a_duplicate_and_a_dead_letter(
    tmp_path: Path, conversion_nats: str
) -> None:
    env = {
        "CONVERSION_FLOOD_MAX_CLICKS": "3",
        "CONVERSION_FLOOD_WINDOW_S": "60",
        "CONVERSION_FLOOD_GUARD_MODE": "enforce",
    }
    async with running_conversion(tmp_path, conversion_nats, env, consumer_max_deliver=2) as conv:
        partner, now = unique("p"), utcnow()
        await conv.partner(partner)
        campaigns = (await conv.campaign(partner), await conv.campaign(partner))
        clicks = _burst(partner, campaigns, now)
        dead = await conv.bus.nc.subscribe("dlq.conversion-clicks.>")
        reused = _click(partner=partner, campaign=campaigns[1], at=now, click_id=clicks[12].click_id)
        for n, click in enumerate(clicks):
            await conv.publish(CLICK_SUBJECT, click, event_id=click.click_id)
            if n == 5:  # the same event again, past JetStream's duplicate window (another message id)
                await conv.bus.js.publish(
                    CLICK_SUBJECT,
                    clicks[3].SerializeToString(),
                    headers={
                        EVENT_ID_HEADER: clicks[3].click_id,
                        MSG_ID_HEADER: uuid.uuid4().hex,
                        EVENT_TYPE_HEADER: clicks[3].DESCRIPTOR.full_name,
                    },
                )
            if n == 20:
                await conv.publish(CLICK_SUBJECT, reused, event_id=uuid.uuid4().hex)
        engine = conv.service.ctx.engine

        async def stored() -> None:
            assert _stored(engine, partner) == len(clicks)

        await eventually(stored, timeout=20)
        letter = await dead.next_msg(timeout=20)  # the reused click id: retried, then dead-lettered
        assert events_pb2.ClickRecorded.FromString(letter.data).click_id == reused.click_id
        await asyncio.sleep(0.5)  # anything still to be applied would change the figures below
        counters = _counters(engine, partner)
        assert counters == _recount(engine, partner, "enforce")
        assert _flood_clicks(engine, partner) == 3
        totals = (await conv.report(partner, days=days_around(now))).totals
        expected = Counter[str]()
        for c in counters.values():
            expected.update(c)
        assert (totals.clicks, totals.views, totals.rejected, totals.flooded) == tuple(
            expected[name] for name in COUNTED
        )
        assert totals.flooded == 3
