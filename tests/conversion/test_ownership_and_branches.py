"""Ownership and branch scope, by enumeration: every partner route with another partner's ids is 404,
and every operator read route shows a branch operator only its own branch's campaigns and what
derives from them (links' funnels, postback deliveries)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from gateway.routes.conversion import ops, partner
from services.runtime.clock import utcnow
from tests.conversion.conftest import eventually, unique
from tests.conversion.system import System, running_system
from tests.conversion.test_gateway_flow import sign_in_with_click
from tests.support import actors

CAMPAIGNS = "/v1/ops/conversion/campaigns"


def today() -> str:
    """Read when a test runs: a suite collected before midnight runs after it."""
    return utcnow().date().isoformat()


def live_campaign(gw: httpx.Client, author: str, branch: str | None) -> str:
    body = {
        "campaign_id": unique("own"),
        "partner_id": "ride",
        "name": "Owned rides",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/owned",
        "postback_milestones": ["linked"],
        **({"branch": branch} if branch else {}),
    }
    created = gw.post(CAMPAIGNS, json=body, headers=actors.operator_headers(gw, author))
    assert created.status_code == 201, created.text
    approved = gw.post(
        f"{CAMPAIGNS}/{body['campaign_id']}/review",
        json={"version": created.json()["pending"]["version"], "approve": True},
        headers=actors.operator_headers(gw, "hq-reviewer"),
    )
    assert approved.status_code == 200, approved.text
    return body["campaign_id"]


def converted(gw: httpx.Client, campaign_id: str) -> str:
    """A ride link to the campaign, followed by a new customer who binds ride; returns the link id."""
    with actors.partner_client(gw, "ride") as ride:
        link = ride.request("POST", "/v1/partner/links", json_body={"campaign_id": campaign_id})
    assert link.status_code == 201, link.text
    with httpx.Client(base_url=gw.base_url) as visitor:  # a new person on a new device
        followed = visitor.get(f"/r/{link.json()['code']}")
    [click_id] = parse_qs(urlsplit(followed.headers["location"]).query)["click_id"]
    session = sign_in_with_click(gw, click_id)
    actors.bind_partner(gw, session, "ride", partner_user_ref=unique("r"))
    return link.json()["link_id"]


async def deliveries_of(system: System, gw: httpx.Client, campaigns: set[str]) -> dict[str, str]:
    async def probe() -> dict[str, str]:
        with actors.partner_client(gw, "ride") as ride:
            found = (await asyncio.to_thread(ride.request, "GET", "/v1/partner/postbacks")).json()["items"]
        by_campaign = {d["campaign_id"]: d["delivery_id"] for d in found if d["campaign_id"] in campaigns}
        assert set(by_campaign) == campaigns
        return by_campaign

    return await eventually(probe, timeout=30)


def partner_routes(campaign_id: str, link_id: str, delivery_id: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Every partner route of conversion, filled with ride's ids: (path, query)."""
    return {
        "/v1/partner/links/{link_id}": (f"/v1/partner/links/{link_id}", {}),
        "/v1/partner/campaigns/{campaign_id}": (f"/v1/partner/campaigns/{campaign_id}", {}),
        "/v1/partner/postbacks/{delivery_id}": (f"/v1/partner/postbacks/{delivery_id}", {}),
        "/v1/partner/reports/funnel": (
            "/v1/partner/reports/funnel",
            {"from_day": today(), "to_day": today(), "campaign_id": campaign_id},
        ),
    }


def partners_see_only_their_own(gw: httpx.Client, campaign_id: str, link_id: str, delivery_id: str) -> None:
    routes = partner_routes(campaign_id, link_id, delivery_id)
    reads = {r.path for r in partner.router.routes if "GET" in r.methods and "{" in r.path}
    assert reads | {"/v1/partner/reports/funnel"} == set(routes)
    with actors.partner_client(gw, "ride") as ride, actors.partner_client(gw, "food") as food:
        for template, (path, query) in routes.items():
            assert ride.request("GET", path, params=query or None).status_code == 200, template
            other = food.request("GET", path, params=query or None)
            assert other.status_code == 404, f"{template}: {other.status_code} {other.text}"
            assert other.headers["content-type"].startswith("application/problem+json")
        lists = {"/v1/partner/links": link_id, "/v1/partner/campaigns": campaign_id}
        lists["/v1/partner/postbacks"] = delivery_id
        for path, own_id in lists.items():
            assert own_id in ride.request("GET", path).text, path
            assert own_id not in food.request("GET", path).text, path
        foods = food.request("GET", "/v1/partner/links", params={"campaign_id": campaign_id}).json()
        assert foods == {"items": [], "next_page_token": None}
        stolen = food.request("POST", "/v1/partner/links", json_body={"campaign_id": campaign_id})
        assert stolen.status_code == 404


def branches_read_only_their_own(gw: httpx.Client, hq: str, sh: str, deliveries: dict[str, str]) -> None:
    reads = {r.path for r in ops.router.routes if "GET" in r.methods}
    covered = {
        f"{CAMPAIGNS}",
        f"{CAMPAIGNS}/{{campaign_id}}",
        f"{CAMPAIGNS}/{{campaign_id}}/versions",
        "/v1/ops/conversion/postbacks",
        "/v1/ops/conversion/funnels",
        "/v1/ops/conversion/partners/{partner_id}",  # the registry: read by all staff
    }
    assert reads == covered
    funnel = {"partner_id": "ride", "from_day": today(), "to_day": today()}
    for who, own, foreign in (("sh-operator", {sh}, {hq}), ("bj-operator", set(), {hq, sh})):
        headers = actors.operator_headers(gw, who)
        listed = {
            c["campaign_id"]
            for c in gw.get(CAMPAIGNS, params={"page_size": 100}, headers=headers).json()["items"]
        }
        assert own <= listed and not foreign & listed, who
        for campaign_id in own | foreign:
            expected = 200 if campaign_id in own else 404
            for path in (f"{CAMPAIGNS}/{campaign_id}", f"{CAMPAIGNS}/{campaign_id}/versions"):
                assert gw.get(path, headers=headers).status_code == expected, (who, path)
            query = {**funnel, "campaign_id": campaign_id}
            assert gw.get("/v1/ops/conversion/funnels", params=query, headers=headers).status_code == expected
            patched = gw.patch(f"{CAMPAIGNS}/{campaign_id}", json={"status": "paused"}, headers=headers)
            assert patched.status_code == (404 if campaign_id in foreign else 200), (who, campaign_id)
        rows = gw.get("/v1/ops/conversion/funnels", params=funnel, headers=headers).json()["rows"]
        assert {r["campaign_id"] for r in rows} <= own, who
        query = {"partner_id": "ride", "page_size": 100}
        shown = gw.get("/v1/ops/conversion/postbacks", params=query, headers=headers).json()["items"]
        assert {d["delivery_id"] for d in shown} == {deliveries[c] for c in own}, who
        assert gw.get("/v1/ops/conversion/partners/ride", headers=headers).status_code == 200
    viewer = actors.operator_headers(gw, "hq-viewer")
    rows = gw.get("/v1/ops/conversion/funnels", params=funnel, headers=viewer).json()["rows"]
    assert {hq, sh} <= {r["campaign_id"] for r in rows}


def postbacks_to(gw: httpx.Client, url: str) -> None:
    admin = actors.operator_headers(gw, "hq-admin")
    assert gw.put("/v1/ops/conversion/partners/ride/postback", json={"url": url}, headers=admin).is_success


async def test_partners_and_branches_reach_only_their_own(tmp_path: Path, conversion_nats: str) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        with system.client() as gw:
            await asyncio.to_thread(postbacks_to, gw, system.receiver.url("/ride/postbacks"))
            hq = await asyncio.to_thread(live_campaign, gw, "hq-operator", None)
            sh = await asyncio.to_thread(live_campaign, gw, "sh-operator", "shanghai")
            link_id = await asyncio.to_thread(converted, gw, hq)
            await asyncio.to_thread(converted, gw, sh)
            deliveries: dict[str, Any] = await deliveries_of(system, gw, {hq, sh})
            await asyncio.to_thread(partners_see_only_their_own, gw, hq, link_id, deliveries[hq])
            await asyncio.to_thread(branches_read_only_their_own, gw, hq, sh, deliveries)
