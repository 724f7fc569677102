"""A campaign's funnel as the workbench shows it: the campaign, its funnel over a period and its links,
in one call (one scope check, the report and the links read side by side).

Another branch's campaign is 404, as everywhere else.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from lattice.conversion.v1 import conversion_pb2 as pb
from pydantic import BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.routes.conversion.ops import _actor, _campaign
from gateway.routes.conversion.partner import _link_record
from gateway.routes.conversion.schemas import (
    CampaignPublic,
    Day,
    FunnelReport,
    LinkRecord,
    campaign_public,
    report_public,
)

router = APIRouter(prefix="/v1/ops/conversion", tags=["conversion"])
VIEWER = require_role("viewer")
CampaignId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
LINKS = 100


class CampaignFunnel(BaseModel):
    campaign: CampaignPublic
    report: FunnelReport
    links: list[LinkRecord]


@router.get(
    "/campaigns/{campaign_id}/funnel",
    operation_id="get_campaign_funnel",
    summary="Get a campaign with its funnel and links",
    response_model=CampaignFunnel,
)
async def campaign_funnel(
    campaign_id: CampaignId,
    request: Request,
    clients: ClientsDep,
    from_day: Annotated[Day, Query(description="first click day, YYYY-MM-DD")],
    to_day: Annotated[Day, Query(description="last click day, inclusive")],
    operator: OperatorPrincipal = VIEWER,
) -> CampaignFunnel:
    """The campaign, its funnel per click day with totals and rates, and its links (the first 100)."""
    campaign = await _campaign(clients, campaign_id, operator)
    report, links = await asyncio.gather(
        clients.conversion.GetFunnelReport(
            pb.GetFunnelReportRequest(
                partner_id=campaign.partner_id,
                campaign_id=campaign_id,
                from_day=from_day,
                to_day=to_day,
                actor=_actor(operator),
            )
        ),
        clients.conversion.ListLinks(
            pb.ListLinksRequest(partner_id=campaign.partner_id, campaign_id=campaign_id, page_size=LINKS)
        ),
    )
    return CampaignFunnel(
        campaign=campaign_public(campaign),
        report=report_public(report, partner_id=campaign.partner_id, from_day=from_day, to_day=to_day),
        links=[_link_record(request, link) for link in links.links],
    )
