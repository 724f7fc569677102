"""Demo data: one campaign for each demo partner, drafted by hq-operator and approved by hq-reviewer."""

from __future__ import annotations

import asyncio

import grpc
from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import conversion_pb2_grpc

AUTHOR = pb.Actor(kind="operator", operator_id="hq-operator", role="operator")
REVIEWER = pb.Actor(kind="operator", operator_id="hq-reviewer", role="reviewer")
DEMO_CAMPAIGNS = [
    pb.Campaign(
        campaign_id="ride-spring",
        partner_id="ride",
        name="Spring rides: open a life account",
        target_app_id="life",
        landing_url="https://life.bank.example/welcome?from=ride",
        cpa_amount_minor=1500,
        currency="CNY",
        commission_milestone="activated",
        postback_milestones=["linked", "activated"],
    ),
    pb.Campaign(
        campaign_id="food-lunch",
        partner_id="food",
        name="Lunch cashback with mbank",
        target_app_id="mbank",
        landing_url="mbank://campaigns/lunch",
        lookback_days=1,
        cpa_amount_minor=800,
        currency="CNY",
        commission_milestone="linked",
    ),
]


async def load(channel: grpc.aio.Channel) -> None:
    """Create what is missing and approve what waits; partners arrive from identity's events."""
    stub = conversion_pb2_grpc.ConversionServiceStub(channel)
    for campaign in DEMO_CAMPAIGNS:
        for _attempt in range(100):
            try:
                await stub.CreateCampaign(pb.CreateCampaignRequest(campaign=campaign, actor=AUTHOR))
                break
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                    break
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"partner {campaign.partner_id} never reached conversion")
        found = await stub.GetCampaign(pb.GetCampaignRequest(campaign_id=campaign.campaign_id))
        if found.campaign.pending_version:
            await stub.ReviewCampaign(
                pb.ReviewCampaignRequest(
                    campaign_id=campaign.campaign_id,
                    version=found.campaign.pending_version,
                    actor=REVIEWER,
                    approve=True,
                    note="demo data",
                )
            )
