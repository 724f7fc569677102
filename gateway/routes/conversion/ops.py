"""Operator routes: campaigns, postback endpoints, link keys, funnels and postback deliveries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from lattice.conversion.v1 import conversion_pb2 as pb
from pydantic import BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.problems import Problem
from gateway.routes.conversion.schemas import (
    CampaignCreate,
    CampaignPage,
    CampaignPublic,
    CampaignUpdate,
    Day,
    FunnelReport,
    KeyRotation,
    PostbackDeliveryPublic,
    PostbackEndpointPublic,
    PostbackEndpointSet,
    Slug,
    campaign_public,
    report_public,
)

router = APIRouter(prefix="/v1/ops/conversion", tags=["conversion"])
VIEWER = require_role("viewer")
OPERATOR = require_role("operator")
ADMIN = require_role("admin")


class PartnerProfilePublic(BaseModel):
    partner_id: str
    name: str
    postback_url: str
    flood_flagged: bool
    flood_clicks: int


def _head_office(operator: OperatorPrincipal) -> None:
    if not operator.head_office:
        raise Problem(403, "head_office_only", "partners' postbacks and link keys are managed by head office")


async def _campaign(clients: ClientsDep, campaign_id: str, operator: OperatorPrincipal) -> pb.Campaign:
    campaign = (await clients.conversion.GetCampaign(pb.GetCampaignRequest(campaign_id=campaign_id))).campaign
    if campaign.branch and not operator.can_manage_branch(campaign.branch):
        raise Problem(404, "campaign_not_found", f"no campaign {campaign_id}")
    return campaign


@router.get("/partners/{partner_id}", response_model=PartnerProfilePublic)
async def get_partner_profile(
    partner_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = VIEWER
) -> PartnerProfilePublic:
    """The partner as conversion knows it, with the click-flood guard's flag."""
    resp = await clients.conversion.GetPartnerProfile(pb.GetPartnerProfileRequest(partner_id=partner_id))
    p = resp.partner
    return PartnerProfilePublic(
        partner_id=p.partner_id,
        name=p.name,
        postback_url=p.postback_url,
        flood_flagged=p.HasField("flood_flagged_at") and p.flood_flagged_at.seconds > 0,
        flood_clicks=p.flood_clicks,
    )


@router.post("/campaigns", status_code=status.HTTP_201_CREATED, response_model=CampaignPublic)
async def create_campaign(
    body: CampaignCreate, clients: ClientsDep, operator: OperatorPrincipal = OPERATOR
) -> CampaignPublic:
    """A campaign for a partner; branch staff create campaigns of their own branch only."""
    if not operator.head_office and body.branch != operator.branch:
        raise Problem(403, "branch_scope", "branch staff create campaigns of their own branch")
    fields = body.model_dump(exclude={"branch"})
    campaign = pb.Campaign(**fields, branch=body.branch or "", created_by=operator.operator_id)
    resp = await clients.conversion.CreateCampaign(pb.CreateCampaignRequest(campaign=campaign))
    return campaign_public(resp.campaign)


@router.get("/campaigns", response_model=CampaignPage)
async def list_campaigns(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    partner_id: Annotated[Slug | None, Query()] = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, Query(max_length=40)] = "",
) -> CampaignPage:
    resp = await clients.conversion.ListCampaigns(
        pb.ListCampaignsRequest(
            partner_id=partner_id or "",
            branch=operator.branch or "",
            page_size=page_size,
            page_token=page_token,
        )
    )
    return CampaignPage(
        items=[campaign_public(c) for c in resp.campaigns], next_page_token=resp.next_page_token or None
    )


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic)
async def get_campaign(
    campaign_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = VIEWER
) -> CampaignPublic:
    return campaign_public(await _campaign(clients, campaign_id, operator))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignPublic)
async def update_campaign(
    campaign_id: Slug,
    body: CampaignUpdate,
    clients: ClientsDep,
    operator: OperatorPrincipal = OPERATOR,
) -> CampaignPublic:
    """Change a campaign (landing, lookback, window, terms, postbacks, status)."""
    current = await _campaign(clients, campaign_id, operator)
    if not operator.can_manage_branch(current.branch or None):
        raise Problem(403, "branch_scope", "this campaign belongs to head office")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Problem(422, "nothing_to_update", "name at least one field to change")
    campaign = pb.Campaign(campaign_id=campaign_id, **changes)
    resp = await clients.conversion.UpdateCampaign(
        pb.UpdateCampaignRequest(campaign=campaign, update_mask=sorted(changes))
    )
    return campaign_public(resp.campaign)


@router.put("/partners/{partner_id}/postback", response_model=PostbackEndpointPublic)
async def set_postback_endpoint(
    partner_id: Slug,
    body: PostbackEndpointSet,
    clients: ClientsDep,
    operator: OperatorPrincipal = ADMIN,
) -> PostbackEndpointPublic:
    """Register the partner's postback URL (SSRF-checked); answers the signing secret when new."""
    _head_office(operator)
    resp = await clients.conversion.SetPostbackEndpoint(
        pb.SetPostbackEndpointRequest(partner_id=partner_id, url=body.url, rotate_secret=body.rotate_secret)
    )
    return PostbackEndpointPublic(partner_id=resp.partner_id, url=resp.url, secret=resp.secret or None)


@router.get("/postbacks", response_model=list[PostbackDeliveryPublic])
async def list_postback_deliveries(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    partner_id: Annotated[Slug | None, Query()] = None,
    delivery_status: Annotated[
        Literal["pending", "delivered", "dead_lettered"] | None, Query(alias="status")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[PostbackDeliveryPublic]:
    resp = await clients.conversion.ListPostbackDeliveries(
        pb.ListPostbackDeliveriesRequest(
            partner_id=partner_id or "", status=delivery_status or "", page_size=page_size
        )
    )
    return [
        PostbackDeliveryPublic(
            delivery_id=d.delivery_id,
            partner_id=d.partner_id,
            campaign_id=d.campaign_id,
            milestone=d.milestone,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
        )
        for d in resp.deliveries
    ]


@router.post("/link-keys/rotate", status_code=status.HTTP_201_CREATED)
async def rotate_link_key(
    body: KeyRotation, clients: ClientsDep, operator: OperatorPrincipal = ADMIN
) -> dict[str, str]:
    """A new link signing key; links signed with the previous key stay valid for the overlap."""
    _head_office(operator)
    resp = await clients.conversion.RotateLinkSigningKey(
        pb.RotateLinkSigningKeyRequest(overlap_days=body.overlap_days)
    )
    return {"key_id": resp.key_id, "previous_key_valid_until": resp.previous_not_after.ToJsonString()}


@router.get("/funnels", response_model=FunnelReport)
async def funnel_report(
    clients: ClientsDep,
    partner_id: Annotated[Slug, Query()],
    from_day: Annotated[Day, Query()],
    to_day: Annotated[Day, Query()],
    campaign_id: Annotated[Slug | None, Query()] = None,
    operator: OperatorPrincipal = VIEWER,
) -> FunnelReport:
    """Clicks, landings, linked, activated and upgraded per campaign and click day, with rates."""
    if campaign_id:
        await _campaign(clients, campaign_id, operator)
    resp = await clients.conversion.GetFunnelReport(
        pb.GetFunnelReportRequest(
            partner_id=partner_id, campaign_id=campaign_id or "", from_day=from_day, to_day=to_day
        )
    )
    return report_public(resp, partner_id=partner_id, from_day=from_day, to_day=to_day)
