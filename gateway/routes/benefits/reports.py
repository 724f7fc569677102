"""`GET /v1/ops/benefits/{benefit_id}/burndown`: the budget day by day, from the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from lattice.benefits.v1 import benefits_pb2 as pb
from pydantic import BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.routes.benefits.calls import operator_principal
from gateway.routes.benefits.schemas import Slug

router = APIRouter(prefix="/v1", tags=["benefits"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
DAY = r"^\d{4}-\d{2}-\d{2}$"


class BurndownDay(BaseModel):
    day: str
    added: int
    spent: int
    remaining: int


class Burndown(BaseModel):
    benefit_id: str
    total_budget: int
    daily_budget: int
    days: list[BurndownDay]


@router.get(
    "/ops/benefits/{benefit_id}/burndown",
    operation_id="get_budget_burndown",
    summary="Get a benefit's budget burn-down",
    response_model=Burndown,
)
async def budget_burndown(
    benefit_id: Slug,
    clients: ClientsDep,
    operator: Viewer,
    from_: Annotated[
        str | None, Query(alias="from", pattern=DAY, description="YYYY-MM-DD, Asia/Shanghai")
    ] = None,
    to: Annotated[
        str | None, Query(pattern=DAY, description="YYYY-MM-DD, Asia/Shanghai; default today")
    ] = None,
) -> Burndown:
    """Per day (Asia/Shanghai, at most 366): value added to the budget, spent from it, and left at day's end;
    amounts in the benefit's unit; another branch's benefit is 404."""
    resp = await clients.benefits.GetBudgetBurndown(
        pb.GetBudgetBurndownRequest(
            benefit_id=benefit_id,
            from_day=from_ or "",
            to_day=to or "",
            principal=operator_principal(operator),
        )
    )
    return Burndown(
        benefit_id=resp.benefit_id,
        total_budget=resp.total_budget,
        daily_budget=resp.daily_budget,
        days=[BurndownDay(day=d.day, added=d.added, spent=d.spent, remaining=d.remaining) for d in resp.days],
    )
