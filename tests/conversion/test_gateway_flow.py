"""Through the gateway: campaigns by operators, links by a partner, `/r/{code}`, sign-in with the
click_id, signed postbacks with the pairwise id only while consent lasts, and the funnel reports."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from lattice.conversion.v1 import conversion_pb2 as pb
from standardwebhooks import Webhook

from services.identity import demo_data
from services.identity.app_client import app_assertion
from services.runtime.clock import utcnow
from services.runtime.link_codec import LinkClaims, sign_link
from tests.conversion.conftest import eventually, unique
from tests.conversion.system import System, running_system
from tests.support import actors

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def set_up_campaign(gw: httpx.Client, receiver_url: str) -> tuple[str, str]:
    """An operator's campaign for `ride` posting back every milestone; returns (campaign, secret)."""
    admin = actors.operator_headers(gw, "hq-admin")
    endpoint = gw.put("/v1/ops/conversion/partners/ride/postback", json={"url": receiver_url}, headers=admin)
    assert endpoint.status_code == 200, endpoint.text
    campaign_id = unique("spring")
    body = {
        "campaign_id": campaign_id,
        "partner_id": "ride",
        "name": "Spring rides",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/welcome?from=ride",
        "cpa_amount_minor": 1500,
        "postback_milestones": ["linked", "activated", "upgraded"],
    }
    operator = actors.operator_headers(gw, "hq-operator")
    created = gw.post("/v1/ops/conversion/campaigns", json=body, headers=operator)
    assert created.status_code == 201, created.text
    assert created.json()["lookback_days"] == 7 and created.json()["conversion_window_days"] == 14
    branch = gw.post(
        "/v1/ops/conversion/campaigns",
        json={**body, "campaign_id": unique("bj")},
        headers=actors.operator_headers(gw, "sh-operator"),
    )
    assert branch.status_code == 403
    assert (
        gw.post("/v1/ops/conversion/campaigns", json={**body, "extra": 1}, headers=operator).status_code
        == 422
    )
    review = {"version": created.json()["pending"]["version"], "approve": True}
    approved = gw.post(
        f"/v1/ops/conversion/campaigns/{campaign_id}/review",
        json=review,
        headers=actors.operator_headers(gw, "hq-reviewer"),
    )
    assert approved.status_code == 200 and approved.json()["review_state"] == "approved", approved.text
    return campaign_id, endpoint.json()["secret"]


def create_link(gw: httpx.Client, campaign_id: str) -> dict[str, str]:
    with actors.partner_client(gw, "ride") as ride:
        key = uuid.uuid4().hex
        body = {"campaign_id": campaign_id, "scene": "trip_end"}
        first = ride.request("POST", "/v1/partner/links", json_body=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        again = ride.request("POST", "/v1/partner/links", json_body=body, headers={"Idempotency-Key": key})
        assert again.json()["code"] == first.json()["code"]
        assert (
            ride.request("POST", "/v1/partner/links", json_body={"campaign_id": "nope-x"}).status_code == 404
        )
    with actors.partner_client(gw, "food") as food:
        assert food.request("POST", "/v1/partner/links", json_body=body).status_code == 404
    return first.json()


def sign_in_with_click(gw: httpx.Client, click_id: str) -> actors.Session:
    app_user = unique("l")
    assertion = app_assertion(
        app_id="life",
        client_secret=demo_data.DEMO_APP_SECRETS["life"],
        app_user_id=app_user,
        assurance_level=2,
    )
    resp = gw.post(
        "/v1/apps/life/token", json={"grant_type": JWT_BEARER, "assertion": assertion, "click_id": click_id}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return actors.Session(
        "life", app_user, body["access_token"], body["refresh_token"], body["assurance_level"]
    )


async def behaviour(system: System, kind: str, customer_id: str) -> None:
    """The core banking system records the milestone through its signed feed."""
    with actors.core_banking_client(system.gateway_url) as core:
        resp = await asyncio.to_thread(core.record_milestones, [actors.milestone(kind, customer_id)])
    assert resp.status_code == 202, resp.text


async def test_partner_traffic_converts_and_is_reported_through_the_gateway(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        gw = system.client()
        try:
            await run_journey(system, gw)
        finally:
            gw.close()


async def run_journey(system: System, gw: httpx.Client) -> None:
    campaign_id, secret = await asyncio.to_thread(set_up_campaign, gw, system.receiver.url("/ride/postbacks"))
    link = await asyncio.to_thread(create_link, gw, campaign_id)

    followed = await asyncio.to_thread(gw.get, f"/r/{link['code']}")
    assert followed.status_code == 302
    target = urlsplit(followed.headers["location"])
    assert (target.netloc, target.path) == ("life.bank.example", "/welcome")
    [click_id] = parse_qs(target.query)["click_id"]
    assert parse_qs(target.query)["from"] == ["ride"] and "lattice_did" in followed.cookies

    code = link["code"]
    tampered = code[:-3] + ("A" if code[-3] != "A" else "B") + code[-2:]
    keys = await system.conversion.stub.ListLinkSigningKeys(pb.ListLinkSigningKeysRequest())
    current = keys.keys[-1]
    stale = LinkClaims(
        "Expired123", "ride", campaign_id, "home", utcnow() - timedelta(minutes=1), current.key_id
    )
    for bad in (tampered, sign_link(claims=stale, secret=current.secret)):
        refused = await asyncio.to_thread(gw.get, f"/r/{bad}")
        assert refused.status_code == 302 and refused.headers["location"] == "https://www.bank.example/safe"

    session = await asyncio.to_thread(sign_in_with_click, gw, click_id)
    pairwise = await asyncio.to_thread(actors.bind_partner, gw, session, "ride", partner_user_ref=unique("r"))
    received = system.receiver.on

    async def postbacks(count: int, kind: str = "conversion.milestone.reached") -> list[dict]:
        verified = [Webhook(secret).verify(r.body, r.headers) for r in received("/ride/postbacks")]
        got = [v for v in verified if v["type"] == kind]
        assert len(got) == count
        return got

    [linked] = await eventually(lambda: postbacks(1))
    assert linked["data"]["milestone"] == "linked" and linked["data"]["click_id"] == click_id
    await behaviour(system, "first_transaction", session.customer_id)
    activated = (await eventually(lambda: postbacks(2)))[1]
    assert activated["data"]["milestone"] == "activated" and activated["data"]["pairwise_id"] == pairwise

    consents = await asyncio.to_thread(gw.get, "/v1/apps/life/consents", headers=session.headers)
    consent_id = next(c["consent_id"] for c in consents.json()["items"] if c["recipient"] == "ride")
    withdrawn = await asyncio.to_thread(
        gw.post, f"/v1/apps/life/consents/{consent_id}/withdraw", headers=session.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    [told] = await eventually(lambda: postbacks(1, "binding.withdrawn"))
    assert told["data"] == told["data"] | {"pairwise_id": pairwise, "reason": "consent_withdrawn"}
    await behaviour(system, "aum_tier_upgraded", session.customer_id)
    upgraded = (await eventually(lambda: postbacks(3)))[2]
    assert upgraded["data"]["milestone"] == "upgraded" and "pairwise_id" not in upgraded["data"]
    for request in received("/ride/postbacks"):
        assert session.customer_id not in request.body

    today = utcnow().date().isoformat()
    with actors.partner_client(gw, "ride") as ride:
        report = await asyncio.to_thread(
            ride.request,
            "GET",
            "/v1/partner/reports/funnel",
            params={"from_day": today, "to_day": today, "campaign_id": campaign_id},
        )
    assert report.status_code == 200, report.text
    totals = report.json()["totals"]
    assert (totals["clicks"], totals["landings"], totals["linked"]) == (1, 1, 1)
    assert (totals["activated"], totals["upgraded"], totals["rejected"]) == (1, 1, 1)
    assert report.json()["commission_due_minor"] == 1500
    viewer = await asyncio.to_thread(actors.operator_headers, gw, "hq-viewer")
    ops = await asyncio.to_thread(
        gw.get,
        "/v1/ops/conversion/funnels",
        params={"partner_id": "ride", "from_day": today, "to_day": today},
        headers=viewer,
    )
    assert ops.status_code == 200 and ops.json()["totals"]["linked"] >= 1
    await rotate_keys_keeping_old_links(gw, campaign_id, link["code"])
    unsigned = await asyncio.to_thread(
        gw.get, "/v1/partner/reports/funnel", params={"from_day": today, "to_day": today}
    )
    assert unsigned.status_code == 401


async def rotate_keys_keeping_old_links(gw: httpx.Client, campaign_id: str, old_code: str) -> None:
    """After a rotation with overlap, links of both the previous and the new key are followed."""
    admin = await asyncio.to_thread(actors.operator_headers, gw, "hq-admin")
    rotated = await asyncio.to_thread(
        gw.post, "/v1/ops/conversion/link-keys/rotate", json={"overlap_days": 1}, headers=admin
    )
    assert rotated.status_code == 201, rotated.text
    new_code = (await asyncio.to_thread(create_link, gw, campaign_id))["code"]
    assert new_code.split(".")[5] == rotated.json()["key_id"] != old_code.split(".")[5]
    await asyncio.sleep(1.1)  # the gateway refetches keys for an unknown key id at most once a second
    for code in (old_code, new_code):
        followed = await asyncio.to_thread(gw.get, f"/r/{code}")
        assert followed.status_code == 302 and "click_id=" in followed.headers["location"], code
