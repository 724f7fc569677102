"""Partner routes (signed requests): links for the partner's own campaigns and its funnel report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from lattice.conversion.v1 import conversion_pb2 as pb

from gateway.auth import PartnerDep
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.routes.conversion.schemas import (
    CampaignPublic,
    Day,
    FunnelReport,
    LinkCreate,
    LinkPublic,
    Slug,
    campaign_public,
    report_public,
)
from services.runtime.clock import from_timestamp

router = APIRouter(prefix="/v1/partner", tags=["conversion"])


@router.post("/links", status_code=status.HTTP_201_CREATED, response_model=LinkPublic)
async def create_link(
    body: LinkCreate,
    partner: PartnerDep,
    clients: ClientsDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep = None,
) -> LinkPublic:
    """A signed, expiring link to one of the partner's own active campaigns."""
    resp = await clients.conversion.CreateLink(
        pb.CreateLinkRequest(
            partner_id=partner.partner_id,
            campaign_id=body.campaign_id,
            scene=body.scene,
            ttl_days=body.ttl_days,
            idempotency_key=idempotency_key or "",
        )
    )
    expires_at = from_timestamp(resp.expires_at)
    assert expires_at is not None
    url = str(request.base_url).rstrip("/") + f"/r/{resp.code}"
    return LinkPublic(link_id=resp.link_id, code=resp.code, url=url, expires_at=expires_at)


@router.get("/campaigns", response_model=list[CampaignPublic])
async def list_my_campaigns(partner: PartnerDep, clients: ClientsDep) -> list[CampaignPublic]:
    """The partner's campaigns."""
    resp = await clients.conversion.ListCampaigns(
        pb.ListCampaignsRequest(partner_id=partner.partner_id, page_size=100)
    )
    return [campaign_public(c) for c in resp.campaigns]


@router.get("/reports/funnel", response_model=FunnelReport)
async def funnel_report(
    partner: PartnerDep,
    clients: ClientsDep,
    from_day: Annotated[Day, Query()],
    to_day: Annotated[Day, Query()],
    campaign_id: Annotated[Slug | None, Query()] = None,
) -> FunnelReport:
    """The partner's funnel per campaign and click day (ordered mode, within each conversion window)."""
    resp = await clients.conversion.GetFunnelReport(
        pb.GetFunnelReportRequest(
            partner_id=partner.partner_id, campaign_id=campaign_id or "", from_day=from_day, to_day=to_day
        )
    )
    return report_public(resp, partner_id=partner.partner_id, from_day=from_day, to_day=to_day)
