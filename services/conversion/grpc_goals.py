"""ConversionService's north-star and goal RPCs (mixed into ConversionApi)."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from lattice.conversion.v1 import conversion_pb2 as pb
from sqlalchemy.engine import Engine

from services.conversion import goals, north_star
from services.conversion.grpc_convert import branch_of, staff_from_pb
from services.conversion.models import Goal, GoalChange
from services.runtime.paging import page_size
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

MAX_PAGE = 100


def _goal_from_pb(g: pb.Goal) -> tuple[Goal, list[goals.Measure]]:
    goal = Goal(
        goal_id=g.goal_id,
        objective=g.objective,
        name=g.name,
        branch=g.branch,
        app_id=g.scope.app_id,
        partner_id=g.scope.partner_id,
        campaign_id=g.scope.campaign_id,
        created_by="",
        updated_by="",
    )
    return goal, from_protos(goals.Measure, g.measures)


def _goal_to_pb(goal: Goal, actual: list[int] | None = None) -> pb.Goal:
    actual = actual or [0] * len(goal.measures)
    return to_proto(
        pb.Goal,
        goal,
        # the row keeps its scope flat; the goal's branch is the goal's own field, not its scope's
        scope=to_proto(pb.MetricFilter, goal, branch=None),
        measures=[{**m, "actual": a} for m, a in zip(goal.measures, actual, strict=True)],
    )


def _with_actuals(engine: Engine, found: list[Goal]) -> list[pb.Goal]:
    actual = goals.actuals(engine=engine, goals=found)
    return [_goal_to_pb(goal, a) for goal, a in zip(found, actual, strict=True)]


def _change_to_pb(change: GoalChange) -> pb.GoalChange:
    return to_proto(pb.GoalChange, change, goal=_goal_to_pb(Goal.model_validate(change.snapshot)))


# The goal RPCs answer with one message per RPC, of the same fields.
GoalReply = TypeVar("GoalReply", pb.CreateGoalResponse, pb.UpdateGoalResponse, pb.GetGoalResponse)


class GoalRpcs:
    """North-star series and goal CRUD; `_engine` comes from ConversionApi."""

    _engine: Engine

    async def GetNorthStar(self, request, context) -> pb.GetNorthStarResponse:
        return await asyncio.to_thread(self._north_star, request)

    def _north_star(self, request: pb.GetNorthStarRequest) -> pb.GetNorthStarResponse:
        """The series, the optional breakdown and goals in one read (the dashboard's one call)."""
        ask: dict[str, Any] = {
            "engine": self._engine,
            "from_day": request.from_day,
            "to_day": request.to_day,
            "scope": from_proto(north_star.Scope, request.filter),
            "actor_branch": branch_of(request.actor),
        }
        groups, totals = north_star.series(group_by=request.group_by, **ask)
        answer = pb.GetNorthStarResponse(
            groups=[pb.MetricGroup(key=key, counts=to_proto(pb.FunnelCounts, c)) for key, c in groups],
            totals=to_proto(pb.FunnelCounts, totals),
        )
        if request.breakdown_by:
            breakdown, _ = north_star.series(group_by=request.breakdown_by, **ask)
            answer.breakdown.extend(
                pb.MetricGroup(key=key, counts=to_proto(pb.FunnelCounts, c)) for key, c in breakdown
            )
        if request.with_goals:
            found = goals.list_goals(
                engine=self._engine,
                objective="",
                actor=staff_from_pb(request.actor),
                limit=MAX_PAGE,
                after="",
            )
            answer.goals.extend(_with_actuals(self._engine, found))
        return answer

    async def _answer(self, goal: Goal, reply: type[GoalReply]) -> GoalReply:
        [answered] = await asyncio.to_thread(_with_actuals, self._engine, [goal])
        return reply(goal=answered)

    async def CreateGoal(self, request, context) -> pb.CreateGoalResponse:
        goal, measures = _goal_from_pb(request.goal)
        created = await asyncio.to_thread(
            goals.create_goal,
            engine=self._engine,
            goal=goal,
            measures=measures,
            actor=staff_from_pb(request.actor),
        )
        return await self._answer(created, pb.CreateGoalResponse)

    async def UpdateGoal(self, request, context) -> pb.UpdateGoalResponse:
        goal, measures = _goal_from_pb(request.goal)
        updated = await asyncio.to_thread(
            goals.update_goal,
            engine=self._engine,
            changes=goal,
            version=request.goal.version,
            measures=measures,
            actor=staff_from_pb(request.actor),
        )
        return await self._answer(updated, pb.UpdateGoalResponse)

    async def DeleteGoal(self, request, context) -> pb.DeleteGoalResponse:
        deleted = await asyncio.to_thread(
            goals.delete_goal,
            engine=self._engine,
            goal_id=request.goal_id,
            version=request.version,
            actor=staff_from_pb(request.actor),
        )
        return pb.DeleteGoalResponse(goal=_goal_to_pb(deleted))

    async def GetGoal(self, request, context) -> pb.GetGoalResponse:
        goal = await asyncio.to_thread(
            goals.get_goal, engine=self._engine, goal_id=request.goal_id, actor=staff_from_pb(request.actor)
        )
        return await self._answer(goal, pb.GetGoalResponse)

    async def ListGoals(self, request, context) -> pb.ListGoalsResponse:
        size = min(request.page_size or 50, MAX_PAGE)
        found = await asyncio.to_thread(
            goals.list_goals,
            engine=self._engine,
            objective=request.objective,
            actor=staff_from_pb(request.actor),
            limit=size + 1,
            after=request.page_token,
        )
        page = found[:size]
        answered = await asyncio.to_thread(_with_actuals, self._engine, page)
        next_token = found[size - 1].goal_id if len(found) > size else ""
        return pb.ListGoalsResponse(goals=answered, next_page_token=next_token)

    async def ListGoalChanges(self, request, context) -> pb.ListGoalChangesResponse:
        changes, token = await asyncio.to_thread(
            goals.list_changes,
            engine=self._engine,
            goal_id=request.goal_id,
            actor=staff_from_pb(request.actor),
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListGoalChangesResponse(changes=[_change_to_pb(c) for c in changes], next_page_token=token)
