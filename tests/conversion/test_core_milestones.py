"""Milestones that pay partners come from the core banking feed, never from a customer's device.

Through the gateway: every app-event type that used to credit a milestone, posted with a real
customer token (now and backdated), credits nothing; the signed core feed does, once per milestone id.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from lattice.conversion.v1 import conversion_pb2 as pb
from standardwebhooks import Webhook

from services.conversion.milestones import FUNNEL_STEP_OF_CORE_KIND
from services.runtime.clock import utcnow
from tests.conversion.conftest import eventually, unique
from tests.conversion.system import System, running_system
from tests.conversion.test_gateway_flow import create_link, set_up_campaign, sign_in_with_click
from tests.support import actors

CPA = 1500  # set_up_campaign's commission per activation


async def caught_up(system: System, stream: str, durable: str) -> None:
    """Wait until conversion's consumer has applied everything its stream holds."""

    async def probe() -> None:
        assert await system.conversion.bus.caught_up(stream=stream, durable=durable)

    await eventually(probe, timeout=20)


async def test_no_customer_token_makes_a_partner_earn_only_the_core_feed_does(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        gw = system.client()
        try:
            await earn_only_from_the_core_feed(system, gw)
        finally:
            gw.close()


async def earn_only_from_the_core_feed(system: System, gw: httpx.Client) -> None:
    campaign_id, secret = await asyncio.to_thread(set_up_campaign, gw, system.receiver.url("/ride/pb"))
    link = await asyncio.to_thread(create_link, gw, campaign_id)
    followed = await asyncio.to_thread(gw.get, f"/r/{link['code']}")
    [click_id] = parse_qs(urlsplit(followed.headers["location"]).query)["click_id"]
    session = await asyncio.to_thread(sign_in_with_click, gw, click_id)
    pairwise = await asyncio.to_thread(actors.bind_partner, gw, session, "ride", partner_user_ref=unique("r"))

    async def postbacks(count: int) -> list[dict]:
        got = system.receiver.on("/ride/pb")
        assert len(got) == count
        return [Webhook(secret).verify(r.body, r.headers) for r in got]

    async def funnel() -> dict:
        today = utcnow().date().isoformat()
        with actors.partner_client(gw, "ride") as ride:
            resp = await asyncio.to_thread(
                ride.request,
                "GET",
                "/v1/partner/reports/funnel",
                params={"from_day": today, "to_day": today, "campaign_id": campaign_id},
            )
        assert resp.status_code == 200, resp.text
        return resp.json()

    [linked] = await eventually(lambda: postbacks(1))
    assert linked["data"]["milestone"] == "linked"

    # the customer's app posts every event type that used to pay, now and backdated
    now = utcnow()
    mbank = await asyncio.to_thread(actors.recognise, gw, session, "mbank")
    for customer in (session, mbank):
        events = [
            {
                "event_id": unique("ev"),
                "type": kind,
                "occurred_at": at.isoformat(),
                "properties": {"tier": "gold"},
            }
            for kind in FUNNEL_STEP_OF_CORE_KIND
            for at in (now, now - timedelta(seconds=1), now - timedelta(days=6, hours=23))
        ]
        posted = await asyncio.to_thread(
            gw.post, f"/v1/apps/{customer.app_id}/events", json={"events": events}, headers=customer.headers
        )
        assert posted.status_code == 202, posted.text
    await caught_up(system, "APP_EVENTS", "conversion-app-events")
    await asyncio.sleep(0.5)  # the postback sender polls every 50 ms
    report = await funnel()
    assert (report["totals"]["activated"], report["totals"]["upgraded"]) == (0, 0)
    assert report["commission_due_minor"] == 0
    assert len(system.receiver.on("/ride/pb")) == 1
    deliveries = await system.conversion.stub.ListPostbackDeliveries(
        pb.ListPostbackDeliveriesRequest(partner_id="ride", page_size=50)
    )
    assert [d.milestone for d in deliveries.deliveries if d.campaign_id == campaign_id] == ["linked"]

    # the core banking system books the first transaction: the partner earns, once per milestone id
    first = actors.milestone("first_transaction", session.customer_id)
    with actors.core_banking_client(system.gateway_url) as core:
        answers = [await asyncio.to_thread(core.record_milestones, [first]) for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json() == {"accepted": 1, "milestone_ids": [first["milestone_id"]]}
    activated = (await eventually(lambda: postbacks(2)))[1]
    assert activated["data"]["milestone"] == "activated" and activated["data"]["pairwise_id"] == pairwise
    await caught_up(system, "CORE", "conversion-core-milestones")
    await asyncio.sleep(0.5)
    assert len(system.receiver.on("/ride/pb")) == 2
    report = await funnel()
    assert report["totals"]["activated"] == 1 and report["commission_due_minor"] == CPA

    upgrade = actors.milestone("aum_tier_upgraded", session.customer_id, tier="affluent")
    with actors.core_banking_client(system.gateway_url) as core:
        assert (await asyncio.to_thread(core.record_milestones, [upgrade])).status_code == 202
    upgraded = (await eventually(lambda: postbacks(3)))[2]
    assert upgraded["data"]["milestone"] == "upgraded"
    for request in system.receiver.on("/ride/pb"):
        assert session.customer_id not in request.body
