"""Control groups, dry runs and the review (復盤): audience, suppressions, uplift of treatment vs control."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import func, select

from services.reach import policy as policies
from services.reach import review
from services.reach.engine import ReachEngine
from services.reach.matching import in_control_group
from services.reach.models import Delivery, InboxMessage
from services.runtime.db import read_session
from tests.reach.conftest import AUTHOR, event, live_strategy, local, seed_customer

CUSTOMERS = [f"cust-{i:03d}" for i in range(200)]


async def test_ten_percent_control_group_receives_nothing_and_is_reported(
    reach: ReachEngine, reach_db: Engine
) -> None:
    now = local(2, 10)
    for customer in CUSTOMERS:
        seed_customer(reach_db, customer, now=now)
    strategy_id = live_strategy(
        reach_db, control_share_bp=1000, goal_event_type="deposit_opened", conversion_window_s=86400
    )
    control = {
        c for c in CUSTOMERS if in_control_group(strategy_id=strategy_id, customer_id=c, share_bp=1000)
    }
    # about 10% (20 of 200, sigma 4.2): the bounds are 6 sigma wide, so a random strategy id never fails them
    assert 5 <= len(control) <= 45  # and the same customers on every run
    for customer in CUSTOMERS:
        await reach.handle_event(event(customer, f"salary-{customer}", at=now), consumer="t", now=now)
    # Conversions: every control customer's third, and every treatment customer's second, opens a deposit.
    converters = [c for i, c in enumerate(sorted(control)) if i % 3 == 0]
    converters += [c for i, c in enumerate(sorted(set(CUSTOMERS) - control)) if i % 2 == 0]
    later = now + timedelta(hours=2)
    for customer in converters:
        await reach.handle_event(
            event(customer, f"deposit-{customer}", at=later, type="deposit_opened"), consumer="t", now=later
        )

    with read_session(reach_db) as session:
        inbox_owners = set(session.exec(select(InboxMessage.customer_id)))
        held_out = set(session.exec(select(Delivery.customer_id).where(Delivery.control)))
    assert held_out == control
    assert inbox_owners == set(CUSTOMERS) - control

    report = review.review(
        engine=reach_db,
        actor=AUTHOR,
        strategy_id=strategy_id,
        start=now - timedelta(days=1),
        end=later + timedelta(hours=1),
    )
    assert report.audience == 200
    assert report.suppressed["control_group"] == len(control)
    assert report.delivered == report.sent == 200 - len(control)
    assert report.control.customers == len(control)
    assert report.control.converted == len([c for i, c in enumerate(sorted(control)) if i % 3 == 0])
    assert report.treatment.converted == (200 - len(control) + 1) // 2
    assert abs(report.uplift - (report.treatment.rate - report.control.rate)) < 1e-9
    assert report.uplift > 0


async def test_review_counts_opens_and_suppressions_by_reason(reach: ReachEngine, reach_db: Engine) -> None:
    from services.reach import inbox

    now = local(2, 10)
    for customer in ("cust-a", "cust-b"):
        seed_customer(reach_db, customer, now=now)
    policies.set_preference(
        engine=reach_db, customer_id="cust-b", channel="inbox", purpose="all", opted_in=False, app_id="mbank"
    )
    strategy_id = live_strategy(reach_db)
    for customer in ("cust-a", "cust-b"):
        await reach.handle_event(event(customer, f"ev-{customer}", at=now), consumer="t", now=now)
    [message], _ = inbox.list_messages(
        engine=reach_db, customer_id="cust-a", app_id="mbank", unread_only=True, limit=5, now=now
    )
    inbox.mark_read(
        engine=reach_db, customer_id="cust-a", app_id="mbank", message_id=message.message_id, now=now
    )

    report = review.review(
        engine=reach_db,
        actor=AUTHOR,
        strategy_id=strategy_id,
        start=now - timedelta(hours=1),
        end=now + timedelta(hours=1),
    )
    assert (report.audience, report.sent, report.delivered, report.opened) == (2, 1, 1, 1)
    assert dict(report.suppressed) == {"no_consent": 1}


async def test_dry_run_reports_audience_per_touchpoint_and_sends_nothing(reach_db: Engine) -> None:
    now = local(2, 10)
    for i in range(30):
        seed_customer(reach_db, f"cust-{i:02d}", now=now, aum_tier="affluent" if i < 20 else "mass")
    for i in range(5):  # five affluent customers do not want push offers
        policies.set_preference(
            engine=reach_db,
            customer_id=f"cust-{i:02d}",
            channel="push",
            purpose="offers",
            opted_in=False,
            app_id="",
        )
    policies.set_preference(
        engine=reach_db, customer_id="cust-00", channel="inbox", purpose="all", opted_in=False, app_id=""
    )
    strategy_id = live_strategy(
        reach_db,
        segment=[{"field": "aum_tier", "op": "eq", "values": ["affluent"]}],
        touchpoints=[{"channel": "push"}, {"channel": "inbox"}],
    )
    result = review.dry_run(engine=reach_db, actor=AUTHOR, strategy_id=strategy_id, now=now)
    assert (result.audience, result.control, result.unreachable) == (20, 0, 1)
    assert dict(result.touchpoints) == {"push": 15, "inbox": 4}
    with read_session(reach_db) as session:
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 0
        assert session.exec(select(func.count()).select_from(InboxMessage)).one() == 0
