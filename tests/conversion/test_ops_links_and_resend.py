"""Through the gateway: operators' campaign links, and re-sending a dead-lettered postback with a reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlmodel import select
from standardwebhooks import Webhook

from services.conversion.models import PostbackResend
from services.runtime.db import read_session
from tests.conversion.conftest import eventually, unique
from tests.conversion.system import System, running_system
from tests.conversion.test_gateway_flow import set_up_campaign, sign_in_with_click
from tests.support import actors

POSTBACKS = "/ride/postbacks"


def _links(gw: httpx.Client, campaign_id: str) -> str:
    """An operator's link works like a partner's; branches and viewers are refused; returns its code."""
    url = f"/v1/ops/conversion/campaigns/{campaign_id}/links"
    operator, viewer = actors.operator_headers(gw, "hq-operator"), actors.operator_headers(gw, "hq-viewer")
    branch = actors.operator_headers(gw, "sh-operator")
    body = {"scene": "branch_poster", "ttl_days": 7}
    created = gw.post(url, json=body, headers={**operator, "Idempotency-Key": "poster-1"})
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["url"].endswith(f"/r/{link['code']}")
    again = gw.post(url, json=body, headers={**operator, "Idempotency-Key": "poster-1"})
    assert again.json()["link_id"] == link["link_id"]
    listed = gw.get(url, headers=viewer)
    assert listed.status_code == 200 and link["link_id"] in [x["link_id"] for x in listed.json()["items"]]
    assert gw.post(url, json=body, headers=viewer).status_code == 403
    for refused in (gw.post(url, json=body, headers=branch), gw.get(url, headers=branch)):
        assert refused.status_code == 404 and refused.json()["code"] == "campaign_not_found"
    for bad in ({"scene": "Bad Scene"}, {"ttl_days": 0}, {"ttl_days": 366}, {"extra": 1}):
        resp = gw.post(url, json=bad, headers=operator)
        assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    unknown = gw.post("/v1/ops/conversion/campaigns/nope-x/links", json=body, headers=operator)
    assert unknown.status_code == 404
    return link["code"]


def _dead_letters(gw: httpx.Client, campaign_id: str) -> list[dict[str, Any]]:
    resp = gw.get(
        "/v1/ops/conversion/postbacks",
        params={"partner_id": "ride", "status": "dead_lettered"},
        headers=actors.operator_headers(gw, "hq-viewer"),
    )
    found = [d for d in resp.json()["items"] if d["campaign_id"] == campaign_id]
    assert found, "no dead letter yet"
    return found


async def _resend(system: System, gw: httpx.Client, campaign_id: str, secret: str) -> None:
    [dead] = await eventually(lambda: asyncio.to_thread(_dead_letters, gw, campaign_id))
    assert dead["last_status_code"] == 400
    url = f"/v1/ops/conversion/postbacks/{dead['delivery_id']}/resend"
    operator = actors.operator_headers(gw, "hq-operator")
    call = asyncio.to_thread
    for bad in ({}, {"reason": ""}, {"reason": "x" * 201}, {"reason": "ok", "extra": 1}):
        assert (await call(gw.post, url, json=bad, headers=operator)).status_code == 422
    reason = {"reason": "partner fixed their endpoint (ticket 4711)"}
    viewer, branch = actors.operator_headers(gw, "hq-viewer"), actors.operator_headers(gw, "sh-operator")
    assert (await call(gw.post, url, json=reason, headers=viewer)).status_code == 403
    assert (await call(gw.post, url, json=reason, headers=branch)).status_code == 404
    unknown = await call(gw.post, "/v1/ops/conversion/postbacks/nope/resend", json=reason, headers=operator)
    assert unknown.status_code == 404

    resent = await call(gw.post, url, json=reason, headers=operator)
    assert resent.status_code == 200, resent.text
    assert resent.json()["status"] == "pending" and resent.json()["attempts"] == 0

    async def delivered() -> list[Any]:
        requests = system.receiver.on(POSTBACKS)
        assert len(requests) == 2
        return requests

    first, second = await eventually(delivered)
    # the same webhook-id and a valid signature: the partner deduplicates and verifies as usual
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == dead["delivery_id"]
    assert Webhook(secret).verify(second.body, second.headers)["data"]["milestone"] == "linked"
    again = await call(gw.post, url, json=reason, headers=operator)
    assert again.status_code == 409 and again.json()["code"] == "not_dead_lettered"
    with read_session(system.conversion.service.ctx.engine) as session:
        [audit] = session.exec(
            select(PostbackResend).where(PostbackResend.delivery_id == dead["delivery_id"])
        )
    assert (audit.operator_id, audit.reason, audit.previous_status_code) == (
        "hq-operator",
        reason["reason"],
        400,
    )


async def test_operator_links_and_resending_a_dead_lettered_postback(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        gw = system.client()
        try:
            campaign_id, secret = await asyncio.to_thread(set_up_campaign, gw, system.receiver.url(POSTBACKS))
            code = await asyncio.to_thread(_links, gw, campaign_id)
            system.receiver.answer(POSTBACKS, 400)  # a 4xx other than 429 is dead-lettered at once
            followed = await asyncio.to_thread(gw.get, f"/r/{code}")
            assert followed.status_code == 302, followed.text
            [click_id] = parse_qs(urlsplit(followed.headers["location"]).query)["click_id"]
            session = await asyncio.to_thread(sign_in_with_click, gw, click_id)
            await asyncio.to_thread(actors.bind_partner, gw, session, "ride", partner_user_ref=unique("r"))
            await _resend(system, gw, campaign_id, secret)
        finally:
            gw.close()
