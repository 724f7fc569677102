"""Goals for operators (OGSM): objective -> goal -> measures, a target per metric and period, with the
actual (the north-star metric over that period, within the goal's scope) and the gap.

Head office sets goals for the whole bank or any branch; a branch operator only for its branch, and
reads only its branch's goals. Every change names the version it read and is kept (`/history`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from lattice.conversion.v1 import conversion_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field, StrictInt, computed_field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.paging import Page, PageSize, PageToken
from gateway.problems import Problem
from gateway.routes.conversion.ops import _actor
from gateway.routes.conversion.schemas import Day, Slug, Strict
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1/ops/goals", tags=["goals"])
VIEWER = require_role("viewer")
OPERATOR = require_role("operator")
Metric = Literal["acquired", "activated", "upgraded", "linked", "landings", "clicks"]
Version = Annotated[StrictInt, Field(ge=1, le=2**31 - 1, description="the version that was read")]


class MeasureFields(Strict):
    metric: Metric
    from_day: Day
    to_day: Day
    target: Annotated[StrictInt, Field(ge=1, le=10**12)]


class GoalFields(Strict):
    objective: str = Field(min_length=1, max_length=200, description="the objective (O of OGSM) it serves")
    name: str = Field(min_length=1, max_length=100, description="the goal (G)")
    app_id: Slug | None = None
    partner_id: Slug | None = None
    campaign_id: Slug | None = None
    measures: list[MeasureFields] = Field(min_length=1, max_length=12, description="the measures (M)")


class GoalCreate(GoalFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "goal_id": "q2-activation",
                    "objective": "Grow active customers from partner channels",
                    "name": "Q2 activations",
                    "partner_id": "ride",
                    "measures": [
                        {
                            "metric": "activated",
                            "from_day": "2027-04-01",
                            "to_day": "2027-06-30",
                            "target": 5000,
                        }
                    ],
                }
            ]
        }
    )
    goal_id: Slug
    branch: Slug | None = Field(default=None, description="none: the whole bank (head office only)")


class GoalUpdate(GoalFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "objective": "Grow active customers from partner channels",
                    "name": "Q2 activations",
                    "partner_id": "ride",
                    "measures": [
                        {
                            "metric": "activated",
                            "from_day": "2027-04-01",
                            "to_day": "2027-06-30",
                            "target": 6000,
                        }
                    ],
                    "version": 1,
                }
            ]
        }
    )
    version: Version


class MeasurePublic(BaseModel):
    metric: str
    from_day: str
    to_day: str
    target: int
    actual: int

    @computed_field(description="target - actual; 0 or less when the target is met")  # type: ignore[prop-decorator]  # pydantic documents computed_field over a property
    @property
    def gap(self) -> int:
        return self.target - self.actual

    @computed_field(description="actual / target")  # type: ignore[prop-decorator]  # computed_field over a property
    @property
    def attainment(self) -> float:
        return round(self.actual / self.target, 4) if self.target else 0.0


class GoalPublic(BaseModel):
    goal_id: str
    objective: str
    name: str
    branch: str | None
    app_id: str | None
    partner_id: str | None
    campaign_id: str | None
    measures: list[MeasurePublic]
    version: int
    created_by: str
    updated_by: str
    created_at: datetime | None
    updated_at: datetime | None


class GoalPage(Page[GoalPublic]):
    """One page of live goals, by id."""


class GoalChangePublic(BaseModel):
    version: int
    action: Literal["created", "updated", "deleted"]
    operator_id: str
    at: datetime | None
    goal: GoalPublic


class GoalChangePage(Page[GoalChangePublic]):
    """One page of a goal's history, oldest first."""


def goal_public(g: pb.Goal) -> GoalPublic:
    # the HTTP goal is flat: its scope's app, partner and campaign sit beside its name
    return from_proto(
        GoalPublic,
        g,
        app_id=g.scope.app_id or None,
        partner_id=g.scope.partner_id or None,
        campaign_id=g.scope.campaign_id or None,
    )


def _goal_pb(body: GoalFields, **overrides: str) -> pb.Goal:
    # the HTTP goal is flat: its scope (app, partner, campaign) sits beside its name, its branch apart
    return to_proto(pb.Goal, body, scope=to_proto(pb.MetricFilter, body, branch=None), **overrides)


@router.post(
    "",
    operation_id="create_goal",
    summary="Set an OGSM goal",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalPublic,
)
async def create_goal(
    body: GoalCreate, clients: ClientsDep, operator: OperatorPrincipal = OPERATOR
) -> GoalPublic:
    """Set a goal with its measures; a branch operator sets its own branch's goals only."""
    if not operator.head_office and body.branch != operator.branch:
        raise Problem(403, "branch_scope", "branch staff set goals of their own branch")
    request = pb.CreateGoalRequest(goal=_goal_pb(body), actor=_actor(operator))
    resp = await clients.conversion.CreateGoal(request)
    return goal_public(resp.goal)


@router.get("", operation_id="list_goals", summary="List goals with actual and gap", response_model=GoalPage)
async def list_goals(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    objective: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, Query(max_length=40)] = "",
) -> GoalPage:
    """Live goals by id with actual and gap; a branch operator lists only its branch's."""
    resp = await clients.conversion.ListGoals(
        pb.ListGoalsRequest(
            objective=objective or "", page_size=page_size, page_token=page_token, actor=_actor(operator)
        )
    )
    return GoalPage.of([goal_public(g) for g in resp.goals], resp.next_page_token)


@router.get("/{goal_id}", operation_id="get_goal", summary="Get a goal", response_model=GoalPublic)
async def get_goal(goal_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = VIEWER) -> GoalPublic:
    """One live goal with its measures, actual and gap; 404 for another branch's goal."""
    resp = await clients.conversion.GetGoal(pb.GetGoalRequest(goal_id=goal_id, actor=_actor(operator)))
    return goal_public(resp.goal)


@router.put("/{goal_id}", operation_id="update_goal", summary="Replace a goal", response_model=GoalPublic)
async def update_goal(
    goal_id: Slug, body: GoalUpdate, clients: ClientsDep, operator: OperatorPrincipal = OPERATOR
) -> GoalPublic:
    """Replace the goal's objective, name, scope and measures (409 version_mismatch if it changed)."""
    goal = _goal_pb(body, goal_id=goal_id)
    resp = await clients.conversion.UpdateGoal(pb.UpdateGoalRequest(goal=goal, actor=_actor(operator)))
    return goal_public(resp.goal)


@router.delete(
    "/{goal_id}", operation_id="withdraw_goal", summary="Withdraw a goal", response_model=GoalPublic
)
async def delete_goal(
    goal_id: Slug,
    version: Annotated[int, Query(ge=1, le=2**31 - 1)],
    clients: ClientsDep,
    operator: OperatorPrincipal = OPERATOR,
) -> GoalPublic:
    """Withdraw the goal (its history stays)."""
    resp = await clients.conversion.DeleteGoal(
        pb.DeleteGoalRequest(goal_id=goal_id, version=version, actor=_actor(operator))
    )
    return goal_public(resp.goal)


@router.get(
    "/{goal_id}/history",
    operation_id="get_goal_history",
    summary="Get a goal's history",
    response_model=GoalChangePage,
)
async def goal_history(
    goal_id: Slug,
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> GoalChangePage:
    """Who changed the goal, when, and how it read after each change (the audit trail), oldest first."""
    resp = await clients.conversion.ListGoalChanges(
        pb.ListGoalChangesRequest(
            goal_id=goal_id, actor=_actor(operator), page_size=page_size, page_token=page_token
        )
    )
    changes = [from_proto(GoalChangePublic, c, goal=goal_public(c.goal)) for c in resp.changes]
    return GoalChangePage.of(changes, resp.next_page_token)
