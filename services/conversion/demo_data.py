"""Demo data: one campaign for each demo partner, drafted by hq-operator and approved by hq-reviewer,
and this month's goals of the bank and of the Shanghai branch (OGSM)."""

from __future__ import annotations

import asyncio
from calendar import monthrange

import grpc
from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import conversion_pb2_grpc

from services.runtime.clock import utcnow

AUTHOR = pb.Actor(kind="operator", operator_id="hq-operator", role="operator")
REVIEWER = pb.Actor(kind="operator", operator_id="hq-reviewer", role="reviewer")
SHANGHAI = pb.Actor(kind="operator", operator_id="sh-operator", role="operator", branch="shanghai")
OBJECTIVE = "扩大生态获客与激活 (grow ecosystem acquisition and activation)"
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
    await load_goals(stub)


def demo_goals() -> list[tuple[pb.Goal, pb.Actor]]:
    """This month's goals: the bank's for its partners' traffic, Shanghai's for its own campaigns."""
    today = utcnow().date()
    first = today.replace(day=1).isoformat()
    last = today.replace(day=monthrange(today.year, today.month)[1]).isoformat()

    def measure(metric: str, target: int) -> pb.GoalMeasure:
        return pb.GoalMeasure(metric=metric, from_day=first, to_day=last, target=target)

    month = today.strftime("%Y%m")
    return [
        (
            pb.Goal(
                goal_id=f"bank-ecosystem-{month}",
                objective=OBJECTIVE,
                name="Partner traffic brings new, active customers",
                measures=[measure("acquired", 100), measure("activated", 60), measure("upgraded", 10)],
            ),
            AUTHOR,
        ),
        (
            pb.Goal(
                goal_id=f"ride-riders-{month}",
                objective=OBJECTIVE,
                name="Ride riders open life accounts",
                scope=pb.MetricFilter(partner_id="ride"),
                measures=[measure("linked", 50), measure("activated", 30)],
            ),
            AUTHOR,
        ),
        (
            pb.Goal(
                goal_id=f"shanghai-local-{month}",
                objective=OBJECTIVE,
                name="Shanghai branch: local campaigns activate",
                branch="shanghai",
                measures=[measure("activated", 20)],
            ),
            SHANGHAI,
        ),
    ]


async def load_goals(stub: conversion_pb2_grpc.ConversionServiceStub) -> None:
    for goal, actor in demo_goals():
        try:
            await stub.CreateGoal(pb.CreateGoalRequest(goal=goal, actor=actor))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
