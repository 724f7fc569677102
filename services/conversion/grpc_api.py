"""ConversionService over gRPC: protobuf <-> domain; errors are mapped by the runtime interceptor."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import conversion_pb2_grpc

from services.conversion import aggregates, campaign_review, campaigns, links, partners, postbacks, resend
from services.conversion.attribution import COUNTERS, rates
from services.conversion.config import ConversionSettings
from services.conversion.grpc_convert import (
    branch_of,
    campaign_from_pb,
    delivery_to_pb,
    queued_to_pb,
    staff_from_pb,
    version_to_pb,
)
from services.conversion.grpc_goals import GoalRpcs
from services.conversion.models import Campaign
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.paging import page_size
from services.runtime.proto_mapping import to_proto
from services.runtime.service import ServiceContext
from services.runtime.sorting import start_of

MAX_PAGE = 100

# The campaign RPCs answer with one message per RPC, of the same fields.
CampaignReply = TypeVar(
    "CampaignReply",
    pb.CreateCampaignResponse,
    pb.UpdateCampaignResponse,
    pb.ReviewCampaignResponse,
    pb.GetCampaignResponse,
)


class ConversionApi(GoalRpcs, conversion_pb2_grpc.ConversionServiceServicer):
    def __init__(self, ctx: ServiceContext, settings: ConversionSettings) -> None:
        self._ctx = ctx
        self._engine = ctx.engine
        self._settings = settings

    async def GetPartnerProfile(self, request, context) -> pb.GetPartnerProfileResponse:
        profile, flag = await asyncio.to_thread(
            partners.get_partner_profile, engine=self._engine, partner_id=request.partner_id
        )
        return pb.GetPartnerProfileResponse(
            partner=to_proto(
                pb.PartnerProfile,
                profile,
                flood_flagged_at=flag.flagged_at if flag else None,
                flood_clicks=flag.flood_clicks if flag else 0,
            )
        )

    def _with_pending(self, campaign: Campaign, reply: type[CampaignReply]) -> CampaignReply:
        message = to_proto(pb.Campaign, campaign)
        pending = campaign_review.pending_version(engine=self._engine, campaign=campaign)
        if pending is not None:
            message.pending.CopyFrom(version_to_pb(campaign, pending))
        return reply(campaign=message)

    def _queue_query(self, request: pb.ListCampaignsRequest, size: int) -> dict[str, Any]:
        """Where the review queue's page starts and how long it is, in either view (one row more than
        `size`: whether another page follows)."""
        return {
            "engine": self._engine,
            "branch": branch_of(request.actor),
            "limit": size + 1,
            "after": request.page_token,
            "sort": request.sort,
            "start": start_of(request.after_time, request.after_id),
        }

    def _waiting(self, request: pb.ListCampaignsRequest, size: int) -> pb.ListCampaignsResponse:
        """The review queue's page: each campaign with its pending version, and the queue's length."""
        if request.view == pb.CAMPAIGN_VIEW_REVIEW_QUEUE:
            return self._queued(request, size)
        found, total = campaign_review.waiting_for_review(**self._queue_query(request, size))
        page = []
        for campaign, version in found[:size]:
            message = to_proto(pb.Campaign, campaign)
            message.pending.CopyFrom(version_to_pb(campaign, version))
            page.append(message)
        last = found[size - 1][1] if len(found) > size else None  # the version: its time orders the queue
        next_token = campaign_review.PENDING_ORDER.token(last, sort=request.sort) if last else ""
        return pb.ListCampaignsResponse(campaigns=page, next_page_token=next_token, pending_total=total)

    def _queued(self, request: pb.ListCampaignsRequest, size: int) -> pb.ListCampaignsResponse:
        """The review queue's page in the queue's view: only the columns the inbox shows are read."""
        rows, total = campaign_review.queued_for_review(**self._queue_query(request, size))
        next_token = (
            campaign_review.PENDING_ORDER.token(rows[size - 1], sort=request.sort) if len(rows) > size else ""
        )
        return pb.ListCampaignsResponse(
            campaigns=[queued_to_pb(row) for row in rows[:size]],
            next_page_token=next_token,
            pending_total=total,
        )

    async def CreateCampaign(self, request, context) -> pb.CreateCampaignResponse:
        campaign = await asyncio.to_thread(
            campaigns.create_campaign,
            engine=self._engine,
            campaign=campaign_from_pb(request.campaign),
            actor=staff_from_pb(request.actor),
            settings=self._settings,
        )
        return await asyncio.to_thread(self._with_pending, campaign, pb.CreateCampaignResponse)

    async def UpdateCampaign(self, request, context) -> pb.UpdateCampaignResponse:
        campaign = await asyncio.to_thread(
            campaign_review.update_campaign,
            engine=self._engine,
            changes=campaign_from_pb(request.campaign),
            mask=list(request.update_mask),
            actor=staff_from_pb(request.actor),
            settings=self._settings,
        )
        return await asyncio.to_thread(self._with_pending, campaign, pb.UpdateCampaignResponse)

    async def ReviewCampaign(self, request, context) -> pb.ReviewCampaignResponse:
        campaign = await asyncio.to_thread(
            campaign_review.review_campaign,
            engine=self._engine,
            campaign_id=request.campaign_id,
            version=request.version,
            actor=staff_from_pb(request.actor),
            approve=request.approve,
            note=request.note,
            settings=self._settings,
        )
        return await asyncio.to_thread(self._with_pending, campaign, pb.ReviewCampaignResponse)

    async def ListCampaignVersions(self, request, context) -> pb.ListCampaignVersionsResponse:
        campaign, versions, token = await asyncio.to_thread(
            campaign_review.list_versions,
            engine=self._engine,
            campaign_id=request.campaign_id,
            branch=branch_of(request.actor),
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListCampaignVersionsResponse(
            versions=[version_to_pb(campaign, v) for v in versions], next_page_token=token
        )

    async def GetCampaign(self, request, context) -> pb.GetCampaignResponse:
        campaign = await asyncio.to_thread(
            campaigns.get_campaign,
            engine=self._engine,
            campaign_id=request.campaign_id,
            partner_id=request.partner_id,
            branch=branch_of(request.actor),
        )
        if request.partner_id:  # partners never see changes still under review
            return pb.GetCampaignResponse(campaign=to_proto(pb.Campaign, campaign))
        return await asyncio.to_thread(self._with_pending, campaign, pb.GetCampaignResponse)

    async def ListLinks(self, request, context) -> pb.ListLinksResponse:
        found, token = await asyncio.to_thread(
            links.list_links,
            engine=self._engine,
            partner_id=request.partner_id,
            campaign_id=request.campaign_id,
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListLinksResponse(links=[to_proto(pb.Link, x) for x in found], next_page_token=token)

    async def GetLink(self, request, context) -> pb.GetLinkResponse:
        link = await asyncio.to_thread(
            links.get_link, engine=self._engine, partner_id=request.partner_id, link_id=request.link_id
        )
        return pb.GetLinkResponse(link=to_proto(pb.Link, link))

    async def GetPostbackDelivery(self, request, context) -> pb.GetPostbackDeliveryResponse:
        delivery = await asyncio.to_thread(
            postbacks.get_delivery,
            engine=self._engine,
            partner_id=request.partner_id,
            delivery_id=request.delivery_id,
        )
        return delivery_to_pb(delivery, pb.GetPostbackDeliveryResponse)

    async def ResendPostbackDelivery(self, request, context) -> pb.ResendPostbackDeliveryResponse:
        delivery = await asyncio.to_thread(
            resend.resend,
            engine=self._engine,
            staff=staff_from_pb(request.actor),
            delivery_id=request.delivery_id,
            reason=request.reason,
            now=utcnow(),
        )
        return delivery_to_pb(delivery, pb.ResendPostbackDeliveryResponse)

    async def ListCampaigns(self, request, context) -> pb.ListCampaignsResponse:
        size = min(request.page_size or 50, MAX_PAGE)
        if request.pending_only:
            return await asyncio.to_thread(self._waiting, request, size)
        found = await asyncio.to_thread(
            campaigns.list_campaigns,
            engine=self._engine,
            partner_id=request.partner_id,
            branch=branch_of(request.actor),
            approved_only=request.approved_only,
            limit=size + 1,
            after=request.page_token,
            sort=request.sort,
        )
        next_token = campaigns.CAMPAIGN_ORDER.next_token(found, size, sort=request.sort)
        return pb.ListCampaignsResponse(
            campaigns=[to_proto(pb.Campaign, c) for c in found[:size]], next_page_token=next_token
        )

    async def SetPostbackEndpoint(self, request, context) -> pb.SetPostbackEndpointResponse:
        endpoint, secret = await asyncio.to_thread(
            campaigns.set_postback_endpoint,
            engine=self._engine,
            partner_id=request.partner_id,
            url=request.url,
            rotate_secret=request.rotate_secret,
            settings=self._settings,
        )
        return pb.SetPostbackEndpointResponse(partner_id=endpoint.partner_id, url=endpoint.url, secret=secret)

    async def ListPostbackDeliveries(self, request, context) -> pb.ListPostbackDeliveriesResponse:
        found, token = await asyncio.to_thread(
            postbacks.list_deliveries,
            engine=self._engine,
            partner_id=request.partner_id,
            status=request.status,
            branch=branch_of(request.actor),
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListPostbackDeliveriesResponse(
            deliveries=[delivery_to_pb(d, pb.PostbackDelivery) for d in found], next_page_token=token
        )

    async def CreateLink(self, request, context) -> pb.CreateLinkResponse:
        link = await asyncio.to_thread(
            links.create_link,
            engine=self._engine,
            partner_id=request.partner_id,
            campaign_id=request.campaign_id,
            scene=request.scene,
            ttl_days=request.ttl_days,
            idempotency_key=request.idempotency_key,
            settings=self._settings,
        )
        return to_proto(pb.CreateLinkResponse, link)

    async def ListLinkSigningKeys(self, request, context) -> pb.ListLinkSigningKeysResponse:
        keys = await asyncio.to_thread(links.list_keys, engine=self._engine, now=utcnow())
        return pb.ListLinkSigningKeysResponse(
            keys=[to_proto(pb.LinkSigningKey, k) for k in keys],
            safe_landing_url=self._settings.safe_landing_url,
            landing_domains=self._settings.landing_domains,
            landing_app_schemes=self._settings.landing_app_schemes,
        )

    async def RotateLinkSigningKey(self, request, context) -> pb.RotateLinkSigningKeyResponse:
        days = request.overlap_days or self._settings.key_overlap_days
        key, ends = await asyncio.to_thread(
            links.rotate_key, engine=self._engine, overlap=timedelta(days=days)
        )
        return pb.RotateLinkSigningKeyResponse(key_id=key.key_id, previous_not_after=to_timestamp(ends))

    async def GetFunnelReport(self, request, context) -> pb.GetFunnelReportResponse:
        return await asyncio.to_thread(self._funnel_report, request, branch_of(request.actor))

    def _funnel_report(self, request: pb.GetFunnelReportRequest, branch: str) -> pb.GetFunnelReportResponse:
        """Read and encode in a worker thread: a report has up to days x campaigns rows."""
        rows, totals, commission, currency = aggregates.funnel_report(
            engine=self._engine,
            partner_id=request.partner_id,
            campaign_id=request.campaign_id,
            branch=branch,
            from_day=request.from_day,
            to_day=request.to_day,
        )
        partner_id = request.partner_id
        return pb.GetFunnelReportResponse(
            rows=[
                pb.FunnelRow(
                    day=r.day,
                    partner_id=partner_id,
                    campaign_id=r.campaign_id,
                    counts=pb.FunnelCounts(**dict(zip(COUNTERS, r.counts, strict=True))),
                )
                for r in rows
            ],
            totals=to_proto(pb.FunnelCounts, totals),
            rates=rates(totals),
            commission_due_minor=commission,
            currency=currency,
        )
