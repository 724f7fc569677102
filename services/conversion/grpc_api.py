"""ConversionService over gRPC: protobuf <-> domain; errors are mapped by the runtime interceptor."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import conversion_pb2_grpc

from services.conversion import aggregates, campaigns, links, partners, postbacks
from services.conversion.attribution import COUNTERS, rates
from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign, PostbackDelivery
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.service import ServiceContext

MAX_PAGE = 100


def campaign_to_pb(c: Campaign) -> pb.Campaign:
    return pb.Campaign(
        campaign_id=c.campaign_id,
        partner_id=c.partner_id,
        name=c.name,
        branch=c.branch,
        target_app_id=c.target_app_id,
        landing_url=c.landing_url,
        lookback_days=c.lookback_days,
        conversion_window_days=c.conversion_window_days,
        cpa_amount_minor=c.cpa_amount_minor,
        currency=c.currency,
        commission_milestone=c.commission_milestone,
        postback_milestones=c.postback_milestones,
        status=c.status,
        created_at=to_timestamp(c.created_at),
        created_by=c.created_by,
    )


def campaign_from_pb(c: pb.Campaign) -> Campaign:
    return Campaign(
        campaign_id=c.campaign_id,
        partner_id=c.partner_id,
        name=c.name,
        branch=c.branch,
        target_app_id=c.target_app_id,
        landing_url=c.landing_url,
        lookback_days=c.lookback_days,
        conversion_window_days=c.conversion_window_days,
        cpa_amount_minor=c.cpa_amount_minor,
        currency=c.currency,
        commission_milestone=c.commission_milestone,
        postback_milestones=list(c.postback_milestones),
        status=c.status,
        created_by=c.created_by,
    )


def delivery_to_pb(d: PostbackDelivery) -> pb.PostbackDelivery:
    return pb.PostbackDelivery(
        delivery_id=d.delivery_id,
        partner_id=d.partner_id,
        campaign_id=d.campaign_id,
        milestone=d.milestone,
        status=d.status,
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=to_timestamp(d.created_at),
        delivered_at=to_timestamp(d.delivered_at),
    )


def counts_to_pb(values: dict[str, int]) -> pb.FunnelCounts:
    return pb.FunnelCounts(**{name: values[name] for name in COUNTERS})


class ConversionApi(conversion_pb2_grpc.ConversionServiceServicer):
    def __init__(self, ctx: ServiceContext, settings: ConversionSettings) -> None:
        self._ctx = ctx
        self._engine = ctx.engine
        self._settings = settings

    async def GetPartnerProfile(self, request, context) -> pb.GetPartnerProfileResponse:  # type: ignore[no-untyped-def]
        profile, flag = await asyncio.to_thread(
            partners.get_partner_profile, engine=self._engine, partner_id=request.partner_id
        )
        return pb.GetPartnerProfileResponse(
            partner=pb.PartnerProfile(
                partner_id=profile.partner_id,
                name=profile.name,
                postback_url=profile.postback_url,
                registered_at=to_timestamp(profile.registered_at),
                flood_flagged_at=to_timestamp(flag.flagged_at if flag else None),
                flood_clicks=flag.flood_clicks if flag else 0,
            )
        )

    async def CreateCampaign(self, request, context) -> pb.CampaignResponse:  # type: ignore[no-untyped-def]
        campaign = await asyncio.to_thread(
            campaigns.create_campaign,
            engine=self._engine,
            campaign=campaign_from_pb(request.campaign),
            settings=self._settings,
        )
        return pb.CampaignResponse(campaign=campaign_to_pb(campaign))

    async def UpdateCampaign(self, request, context) -> pb.CampaignResponse:  # type: ignore[no-untyped-def]
        campaign = await asyncio.to_thread(
            campaigns.update_campaign,
            engine=self._engine,
            changes=campaign_from_pb(request.campaign),
            mask=list(request.update_mask),
        )
        return pb.CampaignResponse(campaign=campaign_to_pb(campaign))

    async def GetCampaign(self, request, context) -> pb.CampaignResponse:  # type: ignore[no-untyped-def]
        campaign = await asyncio.to_thread(
            campaigns.get_campaign, engine=self._engine, campaign_id=request.campaign_id
        )
        return pb.CampaignResponse(campaign=campaign_to_pb(campaign))

    async def ListCampaigns(self, request, context) -> pb.ListCampaignsResponse:  # type: ignore[no-untyped-def]
        size = min(request.page_size or 50, MAX_PAGE)
        found = await asyncio.to_thread(
            campaigns.list_campaigns,
            engine=self._engine,
            partner_id=request.partner_id,
            branch=request.branch,
            limit=size + 1,
            after=request.page_token,
        )
        next_token = found[size - 1].campaign_id if len(found) > size else ""
        return pb.ListCampaignsResponse(
            campaigns=[campaign_to_pb(c) for c in found[:size]], next_page_token=next_token
        )

    async def SetPostbackEndpoint(self, request, context) -> pb.SetPostbackEndpointResponse:  # type: ignore[no-untyped-def]
        endpoint, secret = await asyncio.to_thread(
            campaigns.set_postback_endpoint,
            engine=self._engine,
            partner_id=request.partner_id,
            url=request.url,
            rotate_secret=request.rotate_secret,
            settings=self._settings,
        )
        return pb.SetPostbackEndpointResponse(partner_id=endpoint.partner_id, url=endpoint.url, secret=secret)

    async def ListPostbackDeliveries(self, request, context) -> pb.ListPostbackDeliveriesResponse:  # type: ignore[no-untyped-def]
        found = await asyncio.to_thread(
            postbacks.list_deliveries,
            engine=self._engine,
            partner_id=request.partner_id,
            status=request.status,
            limit=min(request.page_size or 50, MAX_PAGE),
        )
        return pb.ListPostbackDeliveriesResponse(deliveries=[delivery_to_pb(d) for d in found])

    async def CreateLink(self, request, context) -> pb.CreateLinkResponse:  # type: ignore[no-untyped-def]
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
        return pb.CreateLinkResponse(
            code=link.code, link_id=link.link_id, expires_at=to_timestamp(link.expires_at)
        )

    async def ListLinkSigningKeys(self, request, context) -> pb.ListLinkSigningKeysResponse:  # type: ignore[no-untyped-def]
        keys = await asyncio.to_thread(links.list_keys, engine=self._engine, now=utcnow())
        return pb.ListLinkSigningKeysResponse(
            keys=[
                pb.LinkSigningKey(key_id=k.key_id, secret=k.secret, not_after=to_timestamp(k.not_after))
                for k in keys
            ],
            safe_landing_url=self._settings.safe_landing_url,
        )

    async def RotateLinkSigningKey(self, request, context) -> pb.RotateLinkSigningKeyResponse:  # type: ignore[no-untyped-def]
        days = request.overlap_days or self._settings.key_overlap_days
        key, ends = await asyncio.to_thread(
            links.rotate_key, engine=self._engine, overlap=timedelta(days=days)
        )
        return pb.RotateLinkSigningKeyResponse(key_id=key.key_id, previous_not_after=to_timestamp(ends))

    async def GetFunnelReport(self, request, context) -> pb.GetFunnelReportResponse:  # type: ignore[no-untyped-def]
        rows, totals, commission, currency = await asyncio.to_thread(
            aggregates.funnel_report,
            engine=self._engine,
            partner_id=request.partner_id,
            campaign_id=request.campaign_id,
            from_day=request.from_day,
            to_day=request.to_day,
        )
        return pb.GetFunnelReportResponse(
            rows=[
                pb.FunnelRow(
                    day=r.day,
                    partner_id=r.partner_id,
                    campaign_id=r.campaign_id,
                    counts=counts_to_pb({name: getattr(r, name) for name in COUNTERS}),
                )
                for r in rows
            ],
            totals=counts_to_pb(totals),
            rates=rates(totals),
            commission_due_minor=commission,
            currency=currency,
        )
