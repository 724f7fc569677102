"""Operator routes: campaigns (with review), postback endpoints, link keys, funnels, postback deliveries.

Campaigns belong to head office or one branch; a branch operator reads and changes only its own
branch's campaigns and what derives from them (funnels, postback deliveries). Partners' postback
endpoints and link keys are head office's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from lattice.conversion.v1 import conversion_pb2 as pb
from pydantic import BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.paging import PageSize, PageToken
from gateway.problems import Problem
from gateway.routes.conversion.schemas import (
    CampaignCreate,
    CampaignPage,
    CampaignPublic,
    CampaignReview,
    CampaignUpdate,
    CampaignVersionPage,
    Day,
    FunnelReport,
    LinkKeyRotated,
    LinkKeyRotation,
    PostbackDeliveryPage,
    PostbackDeliveryPublic,
    PostbackEndpointPublic,
    PostbackEndpointSet,
    Slug,
    campaign_public,
    report_public,
    version_public,
)
from gateway.routes.sorting import sort_query, token_query
from services.runtime.clock import from_timestamp
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

router = APIRouter(prefix="/v1/ops/conversion", tags=["conversion"])
VIEWER = require_role("viewer")
OPERATOR = require_role("operator")
REVIEWER = require_role("reviewer")
ADMIN = require_role("admin")


class PartnerProfilePublic(BaseModel):
    partner_id: str
    name: str
    postback_url: str
    flood_flagged: bool
    flood_clicks: int


def _actor(operator: OperatorPrincipal) -> pb.Actor:
    return to_proto(pb.Actor, operator, kind="operator")  # its id, role and branch ("" for head office)


def _head_office(operator: OperatorPrincipal) -> None:
    if not operator.head_office:
        raise Problem(403, "head_office_only", "partners' postbacks and link keys are managed by head office")


async def _campaign(clients: ClientsDep, campaign_id: str, operator: OperatorPrincipal) -> pb.Campaign:
    request = pb.GetCampaignRequest(campaign_id=campaign_id, actor=_actor(operator))
    campaign = (await clients.conversion.GetCampaign(request)).campaign
    if not operator.can_manage_branch(campaign.branch or None):
        raise Problem(404, "campaign_not_found", f"no campaign {campaign_id}")
    return campaign


@router.get(
    "/partners/{partner_id}",
    operation_id="get_conversion_partner",
    summary="Get a partner's conversion profile",
    response_model=PartnerProfilePublic,
)
async def get_partner_profile(
    partner_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = VIEWER
) -> PartnerProfilePublic:
    """The partner as conversion knows it, with the click-flood guard's flag."""
    resp = await clients.conversion.GetPartnerProfile(pb.GetPartnerProfileRequest(partner_id=partner_id))
    p = resp.partner
    # the HTTP profile tells whether the guard flagged the partner, not when
    return from_proto(
        PartnerProfilePublic,
        p,
        flood_flagged=p.HasField("flood_flagged_at") and p.flood_flagged_at.seconds > 0,
    )


@router.post(
    "/campaigns",
    operation_id="create_campaign",
    summary="Draft a campaign",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignPublic,
)
async def create_campaign(
    body: CampaignCreate, clients: ClientsDep, operator: OperatorPrincipal = OPERATOR
) -> CampaignPublic:
    """Draft a campaign (live once another operator approves it); branch staff draft their branch's."""
    if not operator.head_office and body.branch != operator.branch:
        raise Problem(403, "branch_scope", "branch staff create campaigns of their own branch")
    resp = await clients.conversion.CreateCampaign(
        pb.CreateCampaignRequest(campaign=to_proto(pb.Campaign, body), actor=_actor(operator))
    )
    return campaign_public(resp.campaign)


@router.get(
    "/campaigns", operation_id="list_all_campaigns", summary="List campaigns", response_model=CampaignPage
)
async def list_campaigns(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    partner_id: Annotated[Slug | None, Query()] = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, token_query()] = "",
    sort: Annotated[str, sort_query("campaign_id", "name", "partner_id", "status", "created_at")] = "",
) -> CampaignPage:
    """Campaigns in the operator's scope with their status and pending version, by id or `sort`."""
    resp = await clients.conversion.ListCampaigns(
        pb.ListCampaignsRequest(
            partner_id=partner_id or "",
            actor=_actor(operator),
            page_size=page_size,
            page_token=page_token,
            sort=sort,
        )
    )
    return CampaignPage.of([campaign_public(c) for c in resp.campaigns], resp.next_page_token)


@router.get(
    "/campaigns/{campaign_id}",
    operation_id="get_any_campaign",
    summary="Get a campaign",
    response_model=CampaignPublic,
)
async def get_campaign(
    campaign_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = VIEWER
) -> CampaignPublic:
    """One campaign in the operator's scope; 404 for another branch's."""
    return campaign_public(await _campaign(clients, campaign_id, operator))


@router.patch(
    "/campaigns/{campaign_id}",
    operation_id="update_campaign",
    summary="Change a campaign",
    response_model=CampaignPublic,
)
async def update_campaign(
    campaign_id: Slug,
    body: CampaignUpdate,
    clients: ClientsDep,
    operator: OperatorPrincipal = OPERATOR,
) -> CampaignPublic:
    """Change a campaign: a status change applies at once, anything else waits for review."""
    await _campaign(clients, campaign_id, operator)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Problem(422, "nothing_to_update", "name at least one field to change")
    campaign = to_proto(pb.Campaign, changes, campaign_id=campaign_id)
    resp = await clients.conversion.UpdateCampaign(
        pb.UpdateCampaignRequest(campaign=campaign, update_mask=sorted(changes), actor=_actor(operator))
    )
    return campaign_public(resp.campaign)


@router.post(
    "/campaigns/{campaign_id}/review",
    operation_id="review_campaign",
    summary="Approve or reject a campaign version",
    response_model=CampaignPublic,
)
async def review_campaign(
    campaign_id: Slug, body: CampaignReview, clients: ClientsDep, operator: OperatorPrincipal = REVIEWER
) -> CampaignPublic:
    """Approve or reject the pending version of a campaign; never a version one wrote."""
    await _campaign(clients, campaign_id, operator)
    resp = await clients.conversion.ReviewCampaign(
        to_proto(pb.ReviewCampaignRequest, body, campaign_id=campaign_id, actor=_actor(operator))
    )
    return campaign_public(resp.campaign)


@router.get(
    "/campaigns/{campaign_id}/versions",
    operation_id="list_campaign_versions",
    summary="List a campaign's versions",
    response_model=CampaignVersionPage,
)
async def list_campaign_versions(
    campaign_id: Slug,
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> CampaignVersionPage:
    """The campaign's versions, oldest first: who wrote each, who reviewed it, when (the audit trail)."""
    await _campaign(clients, campaign_id, operator)
    resp = await clients.conversion.ListCampaignVersions(
        pb.ListCampaignVersionsRequest(
            campaign_id=campaign_id, actor=_actor(operator), page_size=page_size, page_token=page_token
        )
    )
    return CampaignVersionPage.of([version_public(v) for v in resp.versions], resp.next_page_token)


@router.put(
    "/partners/{partner_id}/postback",
    operation_id="set_postback_endpoint",
    summary="Register a partner's postback URL",
    response_model=PostbackEndpointPublic,
)
async def set_postback_endpoint(
    partner_id: Slug,
    body: PostbackEndpointSet,
    clients: ClientsDep,
    operator: OperatorPrincipal = ADMIN,
) -> PostbackEndpointPublic:
    """Register the partner's postback URL (SSRF-checked); answers the signing secret when new."""
    _head_office(operator)
    resp = await clients.conversion.SetPostbackEndpoint(
        to_proto(pb.SetPostbackEndpointRequest, body, partner_id=partner_id)
    )
    return from_proto(PostbackEndpointPublic, resp)


@router.get(
    "/postbacks",
    operation_id="list_postback_deliveries",
    summary="List postback deliveries",
    response_model=PostbackDeliveryPage,
)
async def list_postback_deliveries(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    partner_id: Annotated[Slug | None, Query()] = None,
    delivery_status: Annotated[
        Literal["pending", "delivered", "dead_lettered"] | None, Query(alias="status")
    ] = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> PostbackDeliveryPage:
    """Postbacks to partners by state (pending, delivered, dead-lettered), newest first."""
    resp = await clients.conversion.ListPostbackDeliveries(
        pb.ListPostbackDeliveriesRequest(
            partner_id=partner_id or "",
            status=delivery_status or "",
            page_size=page_size,
            page_token=page_token,
            actor=_actor(operator),
        )
    )
    return PostbackDeliveryPage.of(from_protos(PostbackDeliveryPublic, resp.deliveries), resp.next_page_token)


@router.post(
    "/link-keys/rotate",
    operation_id="rotate_link_signing_key",
    summary="Rotate the link signing key",
    status_code=status.HTTP_201_CREATED,
)
async def rotate_link_key(
    body: LinkKeyRotation, clients: ClientsDep, operator: OperatorPrincipal = ADMIN
) -> LinkKeyRotated:
    """A new link signing key; links signed with the previous key stay valid for the overlap."""
    _head_office(operator)
    resp = await clients.conversion.RotateLinkSigningKey(to_proto(pb.RotateLinkSigningKeyRequest, body))
    # "valid until" says what the previous key's not-after means to the caller
    return from_proto(LinkKeyRotated, resp, previous_key_valid_until=from_timestamp(resp.previous_not_after))


@router.get(
    "/funnels",
    operation_id="get_conversion_funnels",
    summary="Get conversion funnels",
    response_model=FunnelReport,
)
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
            partner_id=partner_id,
            campaign_id=campaign_id or "",
            from_day=from_day,
            to_day=to_day,
            actor=_actor(operator),
        )
    )
    return report_public(resp, partner_id=partner_id, from_day=from_day, to_day=to_day)
