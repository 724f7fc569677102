"""Goals (OGSM): objective -> goal -> measures, each a target per metric and period, against the actual.

A goal belongs to head office (branch "", the whole bank) or one branch; a branch operator reads and
changes only its branch's goals. Every change is kept in `goal_change` with the goal as it left it;
a change names the version it read, so two operators cannot overwrite each other unseen.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion import north_star
from services.conversion.campaigns import Staff
from services.conversion.models import Goal, GoalChange
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import AlreadyExists, Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.paging import read_page

METRICS = ("acquired", "activated", "upgraded", "linked", "landings", "clicks")
MAX_MEASURES = 12
MAX_TARGET = 10**12
_ID = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


@dataclass(frozen=True)
class Measure:
    """A target for one metric over one period of click days."""

    metric: str
    from_day: str
    to_day: str
    target: int


def _text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit or any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidInput(f"invalid_{what}", f"{what} must be 1-{limit} characters, no control characters")
    return value


def validate(goal: Goal, measures: list[Measure]) -> None:
    """Raise InvalidInput unless the goal and every measure are acceptable."""
    if not _ID.match(goal.goal_id):
        raise InvalidInput("invalid_goal_id", "goal_id must be 2-40 lowercase letters, digits, '-' or '_'")
    goal.objective = _text(goal.objective, "objective", 200)
    goal.name = _text(goal.name, "name", 100)
    for what in ("branch", "app_id", "partner_id", "campaign_id"):
        value = getattr(goal, what)
        if value and not _ID.match(value):
            raise InvalidInput(
                f"invalid_{what}", f"{what} must be 2-40 lowercase letters, digits, '-' or '_'"
            )
    if not 1 <= len(measures) <= MAX_MEASURES:
        raise InvalidInput("invalid_measures", f"a goal has 1-{MAX_MEASURES} measures")
    for measure in measures:
        if measure.metric not in METRICS:
            raise InvalidInput("invalid_metric", f"metric must be one of {', '.join(METRICS)}")
        north_star.period(measure.from_day, measure.to_day)
        if not 0 < measure.target <= MAX_TARGET:
            raise InvalidInput("invalid_target", f"a target is 1-{MAX_TARGET}")


def _reachable(goal: Goal | None, actor: Staff, goal_id: str) -> Goal:
    if goal is None or goal.deleted or (actor.branch and goal.branch != actor.branch):
        raise NotFound("goal_not_found", f"no goal {goal_id}")
    return goal


def _record(session: Session, goal: Goal, action: str, operator_id: str) -> None:
    snapshot = goal.model_dump(mode="json", exclude={"deleted"})
    session.add(
        GoalChange(
            goal_id=goal.goal_id,
            version=goal.version,
            action=action,
            operator_id=operator_id,
            snapshot=snapshot,
        )
    )


def create_goal(*, engine: Engine, goal: Goal, measures: list[Measure], actor: Staff) -> Goal:
    """Set a goal: an operator of head office (any branch or the whole bank) or of its own branch."""
    actor.require("operator")
    if actor.branch and goal.branch != actor.branch:
        raise Forbidden("branch_scope", "branch staff set goals of their own branch")
    validate(goal, measures)
    goal.measures = [m.__dict__ for m in measures]
    goal.created_by = goal.updated_by = actor.operator_id
    goal.version, goal.deleted = 1, False
    with transaction(engine) as session:
        if session.get(Goal, goal.goal_id) is not None:
            raise AlreadyExists("goal_exists", f"goal {goal.goal_id} already exists")
        session.add(goal)
        _record(session, goal, "created", actor.operator_id)
        session.flush()
        session.refresh(goal)
    return goal


def _locked(session: Session, goal_id: str, version: int, actor: Staff) -> Goal:
    stmt = select(Goal).where(col(Goal.goal_id) == goal_id).with_for_update()
    goal = _reachable(session.exec(stmt).first(), actor, goal_id)
    if version != goal.version:
        raise Conflict("version_mismatch", f"goal {goal_id} is at version {goal.version}; read it again")
    return goal


def update_goal(
    *, engine: Engine, changes: Goal, version: int, measures: list[Measure], actor: Staff
) -> Goal:
    """Replace a goal's objective, name, scope and measures (its branch stays)."""
    actor.require("operator")
    with transaction(engine) as session:
        goal = _locked(session, changes.goal_id, version, actor)
        changes.branch = goal.branch
        validate(changes, measures)
        for name in ("objective", "name", "app_id", "partner_id", "campaign_id"):
            setattr(goal, name, getattr(changes, name))
        goal.measures = [m.__dict__ for m in measures]
        goal.version += 1
        goal.updated_by, goal.updated_at = actor.operator_id, utcnow()
        session.add(goal)
        _record(session, goal, "updated", actor.operator_id)
        session.flush()
        session.refresh(goal)
    return goal


def delete_goal(*, engine: Engine, goal_id: str, version: int, actor: Staff) -> Goal:
    """Withdraw a goal; its history stays."""
    actor.require("operator")
    with transaction(engine) as session:
        goal = _locked(session, goal_id, version, actor)
        goal.deleted, goal.version = True, goal.version + 1
        goal.updated_by, goal.updated_at = actor.operator_id, utcnow()
        session.add(goal)
        _record(session, goal, "deleted", actor.operator_id)
        session.flush()
        session.refresh(goal)
    return goal


def get_goal(*, engine: Engine, goal_id: str, actor: Staff) -> Goal:
    actor.require("viewer")
    with read_session(engine) as session:
        return _reachable(session.get(Goal, goal_id), actor, goal_id)


def list_goals(*, engine: Engine, objective: str, actor: Staff, limit: int, after: str) -> list[Goal]:
    """Live goals by id; a branch reads only its own."""
    actor.require("viewer")
    with read_session(engine) as session:
        stmt = select(Goal).where(col(Goal.goal_id) > after, col(Goal.deleted).is_(False))
        if objective:
            stmt = stmt.where(col(Goal.objective) == objective)
        if actor.branch:
            stmt = stmt.where(col(Goal.branch) == actor.branch)
        return list(session.exec(stmt.order_by(col(Goal.goal_id)).limit(limit)))


def list_changes(
    *, engine: Engine, goal_id: str, actor: Staff, size: int, token: str
) -> tuple[list[GoalChange], str]:
    """A page of a goal's changes (also a withdrawn one's), oldest first."""
    actor.require("viewer")
    with read_session(engine) as session:
        goal = session.get(Goal, goal_id)
        if goal is None or (actor.branch and goal.branch != actor.branch):
            raise NotFound("goal_not_found", f"no goal {goal_id}")
        stmt = select(GoalChange).where(col(GoalChange.goal_id) == goal_id)
        return read_page(session, stmt, [(col(GoalChange.version), False)], token=token, size=size)


def actuals(*, engine: Engine, goals: list[Goal]) -> list[list[int]]:
    """Each goal's measures' actuals: the metric over the measure's period within the goal's scope."""
    found: dict[tuple[str, str, north_star.Scope, str], dict[str, int]] = {}
    answers = []
    with read_session(engine) as session:
        for goal in goals:
            scope = north_star.Scope(
                app_id=goal.app_id, partner_id=goal.partner_id, campaign_id=goal.campaign_id
            )
            row = []
            for measure in goal.measures:
                key = (measure["from_day"], measure["to_day"], scope, goal.branch)
                if key not in found:  # goals of one period and scope share one query
                    found[key] = north_star.totals(
                        session, from_day=key[0], to_day=key[1], scope=scope, branch=goal.branch
                    )
                row.append(found[key][measure["metric"]])
            answers.append(row)
    return answers
