"""Trigger matching: eligible customers get an inbox message, others nothing; redelivery acts once."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from services.reach import inbox
from services.reach.engine import ReachEngine
from services.reach.models import Delivery, InboxMessage
from services.reach.ports import grant_idempotency_key
from services.runtime.db import read_session
from tests.reach.conftest import event, live_strategy, local, seed_customer

AFFLUENT = [{"field": "aum_tier", "op": "in", "values": ["affluent", "private"]}]


def _deliveries(engine: Engine) -> list[Delivery]:
    with read_session(engine) as session:
        return list(session.exec(select(Delivery)))


async def test_salary_credited_reaches_only_the_eligible_customer(
    reach: ReachEngine, reach_db: Engine
) -> None:
    now = local(2, 10)
    seed_customer(reach_db, "cust-rich", now=now, aum_tier="affluent")
    seed_customer(reach_db, "cust-new", now=now, aum_tier="mass")
    live_strategy(reach_db, segment=AFFLUENT)

    await reach.handle_event(event("cust-rich", "ev-1", at=now, amount="8000"), consumer="t", now=now)
    await reach.handle_event(event("cust-new", "ev-2", at=now, amount="3000"), consumer="t", now=now)

    messages, unread = inbox.list_messages(
        engine=reach_db, customer_id="cust-rich", app_id="mbank", unread_only=False, limit=10, now=now
    )
    assert [m.title for m in messages] == ["Salary in: 8000"]
    assert unread == 1
    others, _ = inbox.list_messages(
        engine=reach_db, customer_id="cust-new", app_id="mbank", unread_only=False, limit=10, now=now
    )
    assert others == []
    assert [(d.customer_id, d.status) for d in _deliveries(reach_db)] == [("cust-rich", "delivered")]


async def test_redelivered_event_contacts_and_grants_once(reach: ReachEngine, reach_db: Engine) -> None:
    now = local(2, 10)
    seed_customer(reach_db, "cust-1", now=now)
    strategy_id = live_strategy(reach_db, benefit_id="fee-waiver")

    first = await reach.handle_event(event("cust-1", "ev-9", at=now), consumer="t", now=now)
    again = await reach.handle_event(event("cust-1", "ev-9", at=now), consumer="t", now=now)

    assert len(first) == 1 and again == []
    [delivery] = _deliveries(reach_db)
    # Benefits is down in this test: the grant waits (pending) instead of being lost or doubled.
    assert delivery.status == "delivered" and delivery.action_state == "pending"
    key = grant_idempotency_key(strategy_id=strategy_id, trigger_key=delivery.trigger_key)
    assert key == grant_idempotency_key(strategy_id=strategy_id, trigger_key="ev-9")
    assert key != grant_idempotency_key(strategy_id=strategy_id, trigger_key="ev-10")
    with read_session(reach_db) as session:
        assert len(list(session.exec(select(InboxMessage)))) == 1


async def test_trigger_condition_and_delay(reach: ReachEngine, reach_db: Engine) -> None:
    now = local(2, 10)
    seed_customer(reach_db, "cust-1", now=now)
    live_strategy(
        reach_db,
        trigger={
            "event_type": "salary_credited",
            "predicates": [{"field": "properties.amount", "op": "gte", "values": ["5000"]}],
            "delay_s": 600,
        },
    )
    assert (
        await reach.handle_event(event("cust-1", "ev-small", at=now, amount="4999"), consumer="t", now=now)
        == []
    )
    [due] = await reach.handle_event(event("cust-1", "ev-big", at=now, amount="5000"), consumer="t", now=now)
    assert await reach.dispatch(due, now=now) == "pending"
    assert await reach.dispatch(due, now=local(2, 10, 10)) == "delivered"


async def test_paused_strategy_matches_nothing(reach: ReachEngine, reach_db: Engine) -> None:
    from services.reach import strategies
    from tests.reach.conftest import AUTHOR

    now = local(2, 10)
    seed_customer(reach_db, "cust-1", now=now)
    strategy_id = live_strategy(reach_db)
    strategies.change_status(engine=reach_db, actor=AUTHOR, strategy_id=strategy_id, action="pause")
    assert await reach.handle_event(event("cust-1", "ev-1", at=now), consumer="t", now=now) == []
