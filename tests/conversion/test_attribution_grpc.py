"""Attribution and funnels end to end inside conversion: events on real JetStream -> reports over gRPC."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from services.conversion.attribution import Journey, funnel_counts
from services.runtime.clock import utcnow
from tests.conversion.conftest import days_around, eventually, running_conversion, unique


def linked_counts(report) -> tuple[int, int, int]:
    t = report.totals
    return t.linked, t.acquired, t.re_engaged


async def test_last_click_within_lookback_wins_and_old_clicks_are_organic(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_conversion(tmp_path, conversion_nats) as conv:
        p1, p2 = unique("p1"), unique("p2")
        await conv.partner(p1)
        await conv.partner(p2)
        c1 = await conv.campaign(p1)
        c2 = await conv.campaign(p2)
        short = await conv.campaign(p1, lookback_days=1)
        now = utcnow()
        period = days_around(now)

        # customer A: P1 five days ago, P2 two days ago (same browser), signs up carrying P1's stale click id
        device = uuid.uuid4().hex
        a1 = await conv.click(partner_id=p1, campaign_id=c1, at=now - timedelta(days=5), device_id=device)
        await conv.landing(click_id=a1, at=now - timedelta(days=5) + timedelta(minutes=1))
        a2 = await conv.click(partner_id=p2, campaign_id=c2, at=now - timedelta(days=2), device_id=device)
        await conv.landing(click_id=a2, at=now - timedelta(days=2) + timedelta(minutes=1))

        async def clicks_recorded() -> None:
            assert (await conv.report(p1, days=period)).totals.clicks == 1
            assert (await conv.report(p2, days=period)).totals.clicks == 1

        await eventually(clicks_recorded)
        await conv.linked(customer_id=unique("cust-a"), click_id=a1, at=now)

        # customer B: a P1 click eight days before signing up -> organic
        b1 = await conv.click(partner_id=p1, campaign_id=c1, at=now - timedelta(days=8))
        await conv.linked(customer_id=unique("cust-b"), click_id=b1, at=now)

        # customers C and D on the campaign with a 1-day lookback: two days -> organic, 12 hours -> credited
        cc = await conv.click(partner_id=p1, campaign_id=short, at=now - timedelta(days=2))
        await conv.linked(customer_id=unique("cust-c"), click_id=cc, at=now)
        dd = await conv.click(partner_id=p1, campaign_id=short, at=now - timedelta(hours=12))
        await conv.linked(customer_id=unique("cust-d"), click_id=dd, at=now)

        async def settled() -> None:
            assert linked_counts(await conv.report(p2, c2, days=period)) == (1, 1, 0)
            assert (await conv.report(p1, short, days=period)).totals.landings == 2
            assert (await conv.report(p1, c1, days=period)).totals.landings == 2

        await eventually(settled)
        assert linked_counts(await conv.report(p1, c1, days=period)) == (0, 0, 0)
        assert linked_counts(await conv.report(p1, short, days=period)) == (1, 1, 0)
        assert (await conv.report(p1, days=period)).totals.clicks == 4


async def test_returning_customers_are_re_engaged_only_after_inactivity(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_conversion(tmp_path, conversion_nats) as conv:
        partner = unique("p")
        await conv.partner(partner)
        campaign = await conv.campaign(partner)
        now = utcnow()
        dormant, active = unique("dormant"), unique("active")
        await conv.app_event("login", customer_id=dormant, app_id="mbank", at=now - timedelta(days=60))
        await conv.app_event("login", customer_id=active, app_id="mbank", at=now - timedelta(days=1))
        for customer in (dormant, active):
            click = await conv.click(partner_id=partner, campaign_id=campaign, at=now - timedelta(hours=1))
            await conv.linked(customer_id=customer, click_id=click, at=now, new_customer=False)

        async def settled() -> None:
            report = await conv.report(partner, campaign, days=days_around(now))
            assert report.totals.landings == 2
            assert linked_counts(report) == (1, 0, 1)

        await eventually(settled)


async def test_a_sign_in_waits_for_the_app_activity_still_in_the_consumers_backlog(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_conversion(tmp_path, conversion_nats) as conv:
        partner = unique("p")
        await conv.partner(partner)
        campaign = await conv.campaign(partner)
        now = utcnow()
        active = unique("active")
        # a backlog of other customers' app events, then the active customer's login of yesterday
        for _ in range(300):
            await conv.app_event("page_view", customer_id=unique("other"), app_id="mbank", at=now)
        await conv.app_event("login", customer_id=active, app_id="mbank", at=now - timedelta(days=1))
        click = await conv.click(partner_id=partner, campaign_id=campaign, at=now - timedelta(hours=1))
        await conv.linked(customer_id=active, click_id=click, at=now, new_customer=False)

        async def linking_applied() -> None:  # the landing commits with the linking
            assert (await conv.report(partner, campaign, days=days_around(now))).totals.landings == 1

        await eventually(linking_applied, timeout=20)
        # an active customer re-clicking is no conversion, though the sign-in overtook the login
        assert linked_counts(await conv.report(partner, campaign, days=days_around(now))) == (0, 0, 0)


async def test_funnel_fixture_gives_the_expected_ordered_counts_across_apps(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_conversion(tmp_path, conversion_nats) as conv:
        partner = unique("pf")
        await conv.partner(partner)
        campaign = await conv.campaign(partner, conversion_window_days=14)
        start = (utcnow() - timedelta(days=40)).replace(hour=1, minute=0, second=0, microsecond=0)
        journeys: list[Journey] = []

        async def journey(hour: int, steps: list[float | None], *, late_join: bool = False) -> None:
            clicked = start + timedelta(hours=hour)
            at = [None if s is None else clicked + timedelta(days=s) for s in steps] + [None] * (
                4 - len(steps)
            )
            journeys.append(Journey(partner, campaign, clicked, *at))
            customer = unique("cust")
            click = await conv.click(partner_id=partner, campaign_id=campaign, at=clicked)
            landed, linked, activated, upgraded = at
            if activated and late_join:
                await conv.core_milestone("first_transaction", customer_id=customer, at=activated)
            if landed:
                await conv.landing(click_id=click, at=landed, app_id="life")
            if linked:
                await conv.linked(customer_id=customer, click_id=click, at=linked, app_id="life")
            if activated and not late_join:
                await conv.core_milestone("first_transaction", customer_id=customer, at=activated)
            if upgraded:
                await conv.core_milestone("aum_tier_upgraded", customer_id=customer, at=upgraded)

        await journey(1, [0.001, 0.003, 2, 5])  # lands in life, converts in mbank: every step
        await journey(2, [0.001, 0.003, 20, 21])  # activation after the 14-day window
        await journey(3, [0.001])  # landed only
        await journey(4, [])  # clicked only
        await journey(5, [0.001, 0.003, None, 3])  # upgraded without activation
        await journey(6, [0.001, 0.003, 1], late_join=True)  # activation event seen before the sign-in
        expected = {
            "clicks": 6,
            "views": 0,
            "rejected": 0,
            "flooded": 0,
            "landings": 5,
            "linked": 4,
            "acquired": 4,
            "re_engaged": 0,
            "activated": 2,
            "upgraded": 1,
        }
        assert (
            funnel_counts(journeys=journeys, window=timedelta(days=14))[
                (partner, campaign, start.date().isoformat())
            ]
            == expected
        )

        async def settled() -> None:
            report = await conv.report(partner, campaign, days=(start, start + timedelta(days=1)))
            got = {name: getattr(report.totals, name) for name in expected}
            assert got == expected
            assert [(r.day, r.campaign_id) for r in report.rows] == [(start.date().isoformat(), campaign)]
            assert report.rates["activation_rate"] == 0.5

        await eventually(settled)
