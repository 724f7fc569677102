"""Partner routes (signed requests): the partner's own campaigns, links, postbacks and funnel.

Every read is scoped to the signing partner in conversion itself: another partner's ids are 404.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status
from lattice.conversion.v1 import conversion_pb2 as pb

from gateway import paging
from gateway.auth import PartnerDep
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.routes.conversion.schemas import (
    CampaignPage,
    CampaignPublic,
    Day,
    FunnelReport,
    LinkCreate,
    LinkPage,
    LinkPublic,
    LinkRecord,
    PostbackDeliveryPage,
    PostbackDeliveryPublic,
    Slug,
    campaign_public,
    report_public,
)
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

router = APIRouter(prefix="/v1/partner", tags=["conversion"])
# partners see the approved terms, never who approved them or changes still under review
HIDDEN = {"approved_by", "pending"}
LinkId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,16}$")]
DeliveryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
PageToken = Annotated[str, Query(max_length=80, description="`next_page_token` of the previous page")]


def _link_url(request: Request, code: str) -> str:
    return str(request.base_url).rstrip("/") + f"/r/{code}"


def _link_record(request: Request, link: pb.Link) -> LinkRecord:
    # the link's URL is the gateway's own redirect for its code
    return from_proto(LinkRecord, link, url=_link_url(request, link.code))


@router.post(
    "/links",
    operation_id="create_link",
    summary="Create a campaign link",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkPublic,
)
async def create_link(
    body: LinkCreate,
    partner: PartnerDep,
    clients: ClientsDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep = None,
) -> LinkPublic:
    """A signed, expiring link to one of the partner's own active campaigns."""
    resp = await clients.conversion.CreateLink(
        to_proto(pb.CreateLinkRequest, body, partner_id=partner.partner_id, idempotency_key=idempotency_key)
    )
    return from_proto(LinkPublic, resp, url=_link_url(request, resp.code))


@router.get("/links", operation_id="list_links", summary="List the partner's links", response_model=LinkPage)
async def list_my_links(
    partner: PartnerDep,
    clients: ClientsDep,
    request: Request,
    campaign_id: Annotated[Slug | None, Query()] = None,
    page_token: PageToken = "",
) -> LinkPage:
    """The partner's own links, 100 a page."""
    resp = await clients.conversion.ListLinks(
        pb.ListLinksRequest(
            partner_id=partner.partner_id, campaign_id=campaign_id or "", page_size=100, page_token=page_token
        )
    )
    return LinkPage.of([_link_record(request, link) for link in resp.links], resp.next_page_token)


@router.get(
    "/links/{link_id}",
    operation_id="get_link",
    summary="Get one of the partner's links",
    response_model=LinkRecord,
)
async def get_my_link(
    link_id: LinkId, partner: PartnerDep, clients: ClientsDep, request: Request
) -> LinkRecord:
    """One link the partner created, with its campaign and expiry; 404 for another partner's link."""
    resp = await clients.conversion.GetLink(pb.GetLinkRequest(partner_id=partner.partner_id, link_id=link_id))
    return _link_record(request, resp.link)


@router.get(
    "/campaigns",
    operation_id="list_campaigns",
    summary="List the partner's campaigns",
    response_model=CampaignPage,
    response_model_exclude={"items": {"__all__": HIDDEN}},
)
async def list_my_campaigns(
    partner: PartnerDep, clients: ClientsDep, page_token: PageToken = ""
) -> CampaignPage:
    """The partner's approved campaigns, 100 a page."""
    resp = await clients.conversion.ListCampaigns(
        pb.ListCampaignsRequest(
            partner_id=partner.partner_id, page_size=100, approved_only=True, page_token=page_token
        )
    )
    return CampaignPage.of([campaign_public(c) for c in resp.campaigns], resp.next_page_token)


@router.get(
    "/campaigns/{campaign_id}",
    operation_id="get_campaign",
    summary="Get one of the partner's campaigns",
    response_model=CampaignPublic,
    response_model_exclude=HIDDEN,
)
async def get_my_campaign(campaign_id: Slug, partner: PartnerDep, clients: ClientsDep) -> CampaignPublic:
    """One approved campaign of the partner; 404 for another partner's campaign."""
    resp = await clients.conversion.GetCampaign(
        pb.GetCampaignRequest(campaign_id=campaign_id, partner_id=partner.partner_id)
    )
    return campaign_public(resp.campaign)


@router.get(
    "/postbacks",
    operation_id="list_postbacks",
    summary="List postbacks sent to the partner",
    response_model=PostbackDeliveryPage,
)
async def list_my_postbacks(
    partner: PartnerDep,
    clients: ClientsDep,
    delivery_status: Annotated[
        Literal["pending", "delivered", "dead_lettered"] | None, Query(alias="status")
    ] = None,
    page_size: paging.PageSize = 50,
    page_token: paging.PageToken = "",
) -> PostbackDeliveryPage:
    """Postbacks to the partner, newest first."""
    resp = await clients.conversion.ListPostbackDeliveries(
        pb.ListPostbackDeliveriesRequest(
            partner_id=partner.partner_id,
            status=delivery_status or "",
            page_size=page_size,
            page_token=page_token,
        )
    )
    return PostbackDeliveryPage.of(from_protos(PostbackDeliveryPublic, resp.deliveries), resp.next_page_token)


@router.get(
    "/postbacks/{delivery_id}",
    operation_id="get_postback",
    summary="Get one postback delivery",
    response_model=PostbackDeliveryPublic,
)
async def get_my_postback(
    delivery_id: DeliveryId, partner: PartnerDep, clients: ClientsDep
) -> PostbackDeliveryPublic:
    """One postback sent to the partner, with its attempts and state; 404 for another partner's."""
    resp = await clients.conversion.GetPostbackDelivery(
        pb.GetPostbackDeliveryRequest(partner_id=partner.partner_id, delivery_id=delivery_id)
    )
    return from_proto(PostbackDeliveryPublic, resp)


@router.get(
    "/reports/funnel",
    operation_id="get_funnel_report",
    summary="Get the partner's conversion funnel",
    response_model=FunnelReport,
)
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
