"""North-star metrics for operators: acquisitions, activations and tier upgrades by day, app, partner,
campaign or branch over a period of click days (the funnel's own aggregates, so both always agree).

A branch operator sees only its branch's campaigns; asking for another branch is 403 branch_scope.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from lattice.conversion.v1 import conversion_pb2 as pb
from pydantic import BaseModel, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.routes.conversion.goals import GoalPublic, goal_public
from gateway.routes.conversion.ops import _actor
from gateway.routes.conversion.schemas import Day, FunnelCounts, Slug
from services.runtime.proto_mapping import from_proto

router = APIRouter(prefix="/v1/ops/metrics", tags=["metrics"])
VIEWER = require_role("viewer")
GroupBy = Literal["day", "app", "partner", "campaign", "branch"]
Breakdown = Literal["app", "partner", "campaign", "branch"]
Include = Literal["goals"]
BranchFilter = Annotated[str, Field(pattern=r"^(head_office|[a-z][a-z0-9_-]{1,39})$")]


class MetricGroup(BaseModel):
    key: str = Field(description="the day, app, partner, campaign or branch (head_office for head office)")
    counts: FunnelCounts


class NorthStarSeries(BaseModel):
    group_by: GroupBy
    from_day: str
    to_day: str
    metrics: list[str] = Field(description="the north-star metrics among the counts, in funnel order")
    groups: list[MetricGroup]
    totals: FunnelCounts
    breakdown_by: Breakdown | None = Field(default=None, description="the second grouping, when asked")
    breakdown: list[MetricGroup] | None = Field(
        default=None, description="the same counters by `breakdown_by` (asked with `breakdown`)"
    )
    goals: list[GoalPublic] | None = Field(
        default=None,
        description="the live goals the operator reads (first 100) with actual and gap (`include=goals`)",
    )


NORTH_STAR = ["acquired", "activated", "upgraded"]


@router.get(
    "/north-star",
    operation_id="get_north_star_metrics",
    summary="Get the north-star metrics",
    response_model=NorthStarSeries,
)
async def north_star(
    clients: ClientsDep,
    from_day: Annotated[Day, Query(alias="from", description="first click day, YYYY-MM-DD")],
    to_day: Annotated[Day, Query(alias="to", description="last click day, inclusive")],
    group_by: Annotated[GroupBy, Query()] = "day",
    app_id: Annotated[Slug | None, Query()] = None,
    partner_id: Annotated[Slug | None, Query()] = None,
    campaign_id: Annotated[Slug | None, Query()] = None,
    branch: Annotated[BranchFilter | None, Query(description="head_office or a branch")] = None,
    breakdown: Annotated[
        Breakdown | None, Query(description="also the counters by this second grouping, in the same read")
    ] = None,
    include: Annotated[list[Include] | None, Query(description="goals: also the goals with actuals")] = None,
    operator: OperatorPrincipal = VIEWER,
) -> NorthStarSeries:
    """Counters per group over the period (every day when by day), and their totals; with `breakdown`
    and `include=goals`, everything a dashboard shows in one call."""
    with_goals = "goals" in (include or [])
    resp = await clients.conversion.GetNorthStar(
        pb.GetNorthStarRequest(
            group_by=group_by,
            from_day=from_day,
            to_day=to_day,
            filter=pb.MetricFilter(
                app_id=app_id or "",
                partner_id=partner_id or "",
                campaign_id=campaign_id or "",
                branch=branch or "",
            ),
            actor=_actor(operator),
            breakdown_by=breakdown or "",
            with_goals=with_goals,
        )
    )

    def group(g: pb.MetricGroup, by: str) -> MetricGroup:
        # by branch, the contract's "" is head office, named so over HTTP
        return from_proto(MetricGroup, g, key=g.key or ("head_office" if by == "branch" else ""))

    return NorthStarSeries(
        group_by=group_by,
        from_day=from_day,
        to_day=to_day,
        metrics=NORTH_STAR,
        groups=[group(g, group_by) for g in resp.groups],
        totals=from_proto(FunnelCounts, resp.totals),
        breakdown_by=breakdown,
        breakdown=[group(g, breakdown) for g in resp.breakdown] if breakdown else None,
        goals=[goal_public(g) for g in resp.goals] if with_goals else None,
    )
