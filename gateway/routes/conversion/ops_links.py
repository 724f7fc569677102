"""Operator routes for the workbench: a campaign's links (list, create) and re-sending dead postbacks.

Both act only on campaigns the operator's scope reaches: another branch's campaign or delivery is 404.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from lattice.conversion.v1 import conversion_pb2 as pb
from pydantic import ConfigDict, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.paging import PageSize, PageToken
from gateway.routes.conversion.ops import _actor, _campaign
from gateway.routes.conversion.partner import _link_record, _link_url
from gateway.routes.conversion.schemas import (
    LinkPage,
    LinkPublic,
    PostbackDeliveryPublic,
    Scene,
    Strict,
)
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1/ops/conversion", tags=["conversion"])
VIEWER = require_role("viewer")
OPERATOR = require_role("operator")
CampaignId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
DeliveryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


class OpsLinkCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"scene": "branch-poster", "ttl_days": 60}]})
    scene: Scene = "default"
    ttl_days: int = Field(default=30, ge=1, le=365)


class PostbackResendCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "the partner fixed its endpoint"}]})
    reason: Annotated[str, Field(min_length=1, max_length=200)]


@router.get(
    "/campaigns/{campaign_id}/links",
    operation_id="list_campaign_links",
    summary="List a campaign's links",
    response_model=LinkPage,
)
async def list_campaign_links(
    campaign_id: CampaignId,
    clients: ClientsDep,
    request: Request,
    operator: OperatorPrincipal = VIEWER,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> LinkPage:
    """The campaign's links by id, whoever issued them."""
    campaign = await _campaign(clients, campaign_id, operator)
    resp = await clients.conversion.ListLinks(
        pb.ListLinksRequest(
            partner_id=campaign.partner_id,
            campaign_id=campaign_id,
            page_size=page_size,
            page_token=page_token,
        )
    )
    return LinkPage.of([_link_record(request, link) for link in resp.links], resp.next_page_token)


@router.post(
    "/campaigns/{campaign_id}/links",
    operation_id="create_campaign_link",
    summary="Create a link for the bank's own channels",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkPublic,
)
async def create_campaign_link(
    campaign_id: CampaignId,
    body: OpsLinkCreate,
    clients: ClientsDep,
    request: Request,
    operator: OperatorPrincipal = OPERATOR,
    idempotency_key: IdempotencyKeyDep = None,
) -> LinkPublic:
    """A signed link of an approved, active campaign, for the bank's own channels (e.g. a branch poster)."""
    campaign = await _campaign(clients, campaign_id, operator)
    # the service keys idempotency per partner: an operator's key never meets the partner's own keys
    key = ""
    if idempotency_key:
        key = "ops:" + hashlib.sha256(f"{operator.operator_id}\n{idempotency_key}".encode()).hexdigest()
    resp = await clients.conversion.CreateLink(
        to_proto(
            pb.CreateLinkRequest,
            body,
            partner_id=campaign.partner_id,
            campaign_id=campaign_id,
            idempotency_key=key,
        )
    )
    return from_proto(LinkPublic, resp, url=_link_url(request, resp.code))


@router.post(
    "/postbacks/{delivery_id}/resend",
    operation_id="resend_postback",
    summary="Resend a dead-lettered postback",
    response_model=PostbackDeliveryPublic,
)
async def resend_postback(
    delivery_id: DeliveryId,
    body: PostbackResendCreate,
    clients: ClientsDep,
    operator: OperatorPrincipal = OPERATOR,
) -> PostbackDeliveryPublic:
    """Send a dead-lettered postback again (same webhook-id); the reason is kept with who and when."""
    resp = await clients.conversion.ResendPostbackDelivery(
        to_proto(pb.ResendPostbackDeliveryRequest, body, actor=_actor(operator), delivery_id=delivery_id)
    )
    return from_proto(PostbackDeliveryPublic, resp)
