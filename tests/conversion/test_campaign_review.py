"""Campaigns under review through the gateway: drafts are not live, nobody approves what they wrote,
changes of terms wait while the approved terms stay in force, and every step is on record."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from lattice.conversion.v1 import conversion_pb2 as pb
from sqlmodel import Session

from services.conversion.models import Campaign
from services.runtime.clock import utcnow
from services.runtime.link_codec import LinkClaims, new_link_id, sign_link
from tests.conversion.conftest import AUTHOR, days_around, eventually, running_conversion, unique
from tests.conversion.system import System, running_system
from tests.support import actors

SAFE = "https://www.bank.example/safe"
CAMPAIGNS = "/v1/ops/conversion/campaigns"


def draft(gw: httpx.Client, author: str, **fields: Any) -> dict[str, Any]:
    body = {
        "campaign_id": unique("rv"),
        "partner_id": "ride",
        "name": "Reviewed rides",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/reviewed",
        "cpa_amount_minor": 1000,
        **fields,
    }
    resp = gw.post(CAMPAIGNS, json=body, headers=actors.operator_headers(gw, author))
    assert resp.status_code == 201, resp.text
    return resp.json()


def review(
    gw: httpx.Client, campaign: dict[str, Any], reviewer: str, *, approve: bool = True
) -> httpx.Response:
    body = {"version": campaign["pending"]["version"], "approve": approve}
    headers = actors.operator_headers(gw, reviewer)
    return gw.post(f"{CAMPAIGNS}/{campaign['campaign_id']}/review", json=body, headers=headers)


def change(gw: httpx.Client, campaign_id: str, editor: str, **fields: Any) -> dict[str, Any]:
    resp = gw.patch(f"{CAMPAIGNS}/{campaign_id}", json=fields, headers=actors.operator_headers(gw, editor))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def signed_click(system: System, gw: httpx.Client, campaign_id: str) -> httpx.Response:
    """A correctly signed link to `campaign_id` (as if issued), followed."""
    keys = await system.conversion.stub.ListLinkSigningKeys(pb.ListLinkSigningKeysRequest())
    key = keys.keys[-1]
    claims = LinkClaims(new_link_id(), "ride", campaign_id, "home", utcnow() + timedelta(days=1), key.key_id)
    return await asyncio.to_thread(gw.get, f"/r/{sign_link(claims=claims, secret=key.secret)}")


def drafts_are_not_live(gw: httpx.Client) -> dict[str, Any]:
    campaign = draft(gw, "hq-operator")
    assert campaign["review_state"] == "pending_review" and campaign["pending"]["authors"] == ["hq-operator"]
    with actors.partner_client(gw, "ride") as ride:
        link = ride.request("POST", "/v1/partner/links", json_body={"campaign_id": campaign["campaign_id"]})
        assert link.status_code == 409 and link.json()["code"] == "campaign_not_approved"
        listed = ride.request("GET", "/v1/partner/campaigns").json()["items"]
        assert campaign["campaign_id"] not in {c["campaign_id"] for c in listed}
        assert ride.request("GET", f"/v1/partner/campaigns/{campaign['campaign_id']}").status_code == 404
    return campaign


def nobody_approves_their_own_version(gw: httpx.Client) -> None:
    own = draft(gw, "hq-reviewer")
    refused = review(gw, own, "hq-reviewer")
    assert refused.status_code == 403 and refused.json()["code"] == "self_approval"
    assert review(gw, own, "hq-operator").status_code == 403  # an operator is no reviewer
    edited = draft(gw, "hq-operator")
    edited = change(gw, edited["campaign_id"], "hq-reviewer", cpa_amount_minor=2000)
    assert edited["pending"]["authors"] == ["hq-operator", "hq-reviewer"]
    assert edited["cpa_amount_minor"] == 2000 and edited["review_state"] == "pending_review"
    assert review(gw, edited, "hq-reviewer").json()["code"] == "self_approval"
    stale = gw.post(
        f"{CAMPAIGNS}/{edited['campaign_id']}/review",
        json={"version": edited["pending"]["version"] - 1, "approve": True},
        headers=actors.operator_headers(gw, "hq-admin"),
    )
    assert stale.status_code == 409 and stale.json()["code"] == "version_changed"
    approved = review(gw, edited, "hq-admin")
    assert approved.status_code == 200, approved.text
    assert approved.json()["review_state"] == "approved" and approved.json()["approved_by"] == "hq-admin"
    assert approved.json()["pending"] is None
    again = review(gw, edited, "hq-reviewer")
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_review"


def changes_wait_for_review(gw: httpx.Client) -> None:
    campaign = draft(gw, "hq-operator")
    campaign_id = campaign["campaign_id"]
    assert review(gw, campaign, "hq-reviewer").status_code == 200
    changed = change(
        gw, campaign_id, "hq-operator", cpa_amount_minor=999_999, landing_url="https://life.bank.example/new"
    )
    assert changed["review_state"] == "approved" and changed["cpa_amount_minor"] == 1000
    assert changed["landing_url"] == "https://life.bank.example/reviewed"
    assert changed["pending"]["proposed"] == {
        "cpa_amount_minor": 999_999,
        "landing_url": "https://life.bank.example/new",
    }
    with actors.partner_client(gw, "ride") as ride:
        seen = ride.request("GET", f"/v1/partner/campaigns/{campaign_id}").json()
    assert seen["cpa_amount_minor"] == 1000 and "pending" not in seen and "approved_by" not in seen
    paused = change(gw, campaign_id, "hq-operator", status="paused")  # a pause applies at once
    assert paused["status"] == "paused" and paused["pending"]["version"] == changed["pending"]["version"]
    rejected = review(gw, changed, "hq-reviewer", approve=False)
    assert rejected.status_code == 200 and rejected.json()["cpa_amount_minor"] == 1000
    assert rejected.json()["review_state"] == "approved"
    changed = change(gw, campaign_id, "hq-operator", cpa_amount_minor=1200)
    assert review(gw, changed, "hq-reviewer").json()["cpa_amount_minor"] == 1200
    versions = gw.get(f"{CAMPAIGNS}/{campaign_id}/versions", headers=actors.operator_headers(gw, "hq-viewer"))
    trail = [(v["kind"], v["state"], v["authors"], v["reviewed_by"]) for v in versions.json()["items"]]
    assert trail == [
        ("create", "approved", ["hq-operator"], "hq-reviewer"),
        ("change", "rejected", ["hq-operator"], "hq-reviewer"),
        ("status", "applied", ["hq-operator"], None),
        ("change", "approved", ["hq-operator"], "hq-reviewer"),
    ]


async def test_campaigns_go_live_only_when_another_operator_approved_them(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        with system.client() as gw:
            pending = await asyncio.to_thread(drafts_are_not_live, gw)
            followed = await signed_click(system, gw, pending["campaign_id"])
            assert followed.status_code == 302 and followed.headers["location"] == SAFE

            async def counted_as_rejected() -> None:
                report = await system.conversion.report(
                    "ride", pending["campaign_id"], days=days_around(utcnow())
                )
                assert (report.totals.rejected, report.totals.landings, report.commission_due_minor) == (
                    1,
                    0,
                    0,
                )

            await eventually(counted_as_rejected)  # recorded, never attributable: it earns nothing
            await asyncio.to_thread(nobody_approves_their_own_version, gw)
            await asyncio.to_thread(changes_wait_for_review, gw)
            approved = await asyncio.to_thread(draft, gw, "hq-operator")
            assert (await asyncio.to_thread(review, gw, approved, "hq-reviewer")).status_code == 200
            live = await signed_click(system, gw, approved["campaign_id"])
            assert live.headers["location"].startswith("https://life.bank.example/reviewed?click_id=")
            legacy = await asyncio.to_thread(draft, gw, "hq-operator")
            assert (await asyncio.to_thread(review, gw, legacy, "hq-reviewer")).status_code == 200
            with Session(system.conversion.service.ctx.engine) as session:  # written before the guard existed
                row = session.get(Campaign, legacy["campaign_id"])
                assert row is not None
                row.landing_url = "https://169.254.169.254/latest/meta-data/"
                session.add(row)
                session.commit()
            unsafe = await signed_click(system, gw, legacy["campaign_id"])
            assert unsafe.status_code == 302 and unsafe.headers["location"] == SAFE


async def test_the_service_itself_checks_role_branch_and_authorship(
    tmp_path: Path, conversion_nats: str
) -> None:
    """Behind the gateway too: the actor (asserted by the gateway) decides, not a field anyone can set."""
    async with running_conversion(tmp_path, conversion_nats) as conv:
        await conv.partner("ride")
        campaign_id = await conv.campaign("ride", approve=False, branch="shanghai")
        drafted = await conv.stub.GetCampaign(pb.GetCampaignRequest(campaign_id=campaign_id))
        version = drafted.campaign.pending_version

        async def refused(actor: pb.Actor, code: grpc.StatusCode, reason: str | None) -> None:
            request = pb.ReviewCampaignRequest(
                campaign_id=campaign_id, version=version, approve=True, actor=actor
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await conv.stub.ReviewCampaign(request)
            assert err.value.code() == code
            assert dict(err.value.trailing_metadata() or ()).get("lattice-reason") == reason

        await refused(AUTHOR, grpc.StatusCode.PERMISSION_DENIED, "insufficient_role")
        author_as_reviewer = pb.Actor(kind="operator", operator_id=AUTHOR.operator_id, role="reviewer")
        await refused(author_as_reviewer, grpc.StatusCode.PERMISSION_DENIED, "self_approval")
        beijing = pb.Actor(kind="operator", operator_id="bj-reviewer", role="reviewer", branch="beijing")
        await refused(beijing, grpc.StatusCode.NOT_FOUND, "campaign_not_found")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await conv.stub.GetCampaign(pb.GetCampaignRequest(campaign_id=campaign_id, actor=beijing))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        listed = await conv.stub.ListCampaigns(pb.ListCampaignsRequest(actor=beijing, page_size=100))
        assert campaign_id not in {c.campaign_id for c in listed.campaigns}
        await refused(pb.Actor(), grpc.StatusCode.UNAUTHENTICATED, None)  # the runtime: nobody asserted
        shanghai = pb.Actor(kind="operator", operator_id="sh-reviewer", role="reviewer", branch="shanghai")
        approved = await conv.stub.ReviewCampaign(
            pb.ReviewCampaignRequest(campaign_id=campaign_id, version=version, approve=True, actor=shanghai)
        )
        assert approved.campaign.review_state == "approved" and approved.campaign.approved_by == "sh-reviewer"
        elsewhere = pb.Campaign(
            campaign_id=unique("c"), partner_id="ride", name="x", target_app_id="life",
            landing_url="https://life.bank.example/", branch="shanghai",
        )  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as err:
            bj_operator = pb.Actor(
                kind="operator", operator_id="bj-operator", role="operator", branch="beijing"
            )
            await conv.stub.CreateCampaign(pb.CreateCampaignRequest(campaign=elsewhere, actor=bj_operator))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
