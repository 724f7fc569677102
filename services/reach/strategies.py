"""Strategies and their lifecycle: draft -> approved -> active <-> paused -> ended; a reviewer may
send a draft back (rejected, with a reason) and its next edit makes it a draft again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from services.reach import revisions
from services.reach.models import Strategy, StrategyRevision
from services.reach.spec import StrategySpec, parse_spec
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Conflict, NotFound
from services.runtime.paging import count_rows
from services.runtime.sorting import Sortable

EDITABLE = ("draft", "approved", "paused", "rejected")
TRANSITIONS = {
    "approve": (("draft",), "approved"),
    "reject": (("draft",), "rejected"),
    "activate": (("approved", "paused"), "active"),
    "pause": (("active",), "paused"),
    "end": (("draft", "approved", "active", "paused", "rejected"), "ended"),
}


@dataclass(frozen=True)
class Actor:
    """The operator acting; branch None is head office."""

    operator_id: str
    branch: str | None = None

    def can_manage(self, strategy: Strategy) -> bool:
        return self.branch is None or strategy.branch == self.branch


def spec_of(strategy: Strategy) -> StrategySpec:
    return StrategySpec.model_validate(strategy.spec)


def _load(session: Session, strategy_id: str, actor: Actor, *, lock: bool = False) -> Strategy:
    # Writers lock the row, so an approval and a concurrent edit never both pass (PostgreSQL).
    strategy = session.get(Strategy, strategy_id, with_for_update=lock, populate_existing=lock)
    # Another branch's strategy is reported as absent, not as forbidden, so ids do not leak.
    if strategy is None or not actor.can_manage(strategy):
        raise NotFound("strategy_not_found", f"no strategy {strategy_id}")
    return strategy


def _apply_spec(strategy: Strategy, spec: StrategySpec) -> None:
    strategy.name = spec.name
    strategy.kind = spec.kind
    strategy.spec = spec.model_dump(mode="json")
    strategy.trigger_event_type = spec.trigger.event_type if spec.trigger else None
    strategy.goal_event_type = spec.goal_event_type or None


def create_strategy(*, engine: Engine, actor: Actor, spec_data: dict[str, Any]) -> Strategy:
    """Store a new draft; a branch operator's strategy only ever reaches that branch's customers."""
    spec = parse_spec(spec_data)
    strategy = Strategy(
        strategy_id=str(uuid.uuid4()),
        name=spec.name,
        kind=spec.kind,
        branch=actor.branch,
        created_by=actor.operator_id,
    )
    _apply_spec(strategy, spec)
    with transaction(engine) as session:
        revisions.start(session, strategy=strategy, operator_id=actor.operator_id, now=strategy.created_at)
        session.add(strategy)
    return strategy


def update_strategy(
    *,
    engine: Engine,
    actor: Actor,
    strategy_id: str,
    spec_data: dict[str, Any],
    expected_version: int = 0,
) -> Strategy:
    """Change a strategy's spec; it goes back to draft and its version needs a new approval."""
    spec = parse_spec(spec_data)
    now = utcnow()
    with transaction(engine) as session:
        strategy = _load(session, strategy_id, actor, lock=True)
        if strategy.status not in EDITABLE:
            raise Conflict("strategy_not_editable", f"a {strategy.status} strategy cannot be edited")
        if expected_version and expected_version != strategy.version:
            raise Conflict("version_mismatch", "the strategy changed since it was read")
        _apply_spec(strategy, spec)
        revisions.record_edit(session, strategy=strategy, operator_id=actor.operator_id, now=now)
        strategy.status = "draft"
        strategy.approved_by = None
        strategy.next_run_at = None
        strategy.version += 1
        strategy.updated_at = now
        session.add(strategy)
    return strategy


def change_status(
    *,
    engine: Engine,
    actor: Actor,
    strategy_id: str,
    action: str,
    now: datetime | None = None,
    reason: str = "",
) -> Strategy:
    """Move a strategy along its lifecycle; nobody approves or rejects a version they wrote."""
    allowed_from, target = TRANSITIONS[action]
    now = now or utcnow()
    with transaction(engine) as session:
        strategy = _load(session, strategy_id, actor, lock=True)
        if strategy.status not in allowed_from:
            raise Conflict("invalid_transition", f"cannot {action} a {strategy.status} strategy")
        if action == "approve":
            revisions.approve(session, strategy=strategy, operator_id=actor.operator_id, now=now)
        if action == "reject":
            revisions.reject(
                session, strategy=strategy, operator_id=actor.operator_id, reason=reason, now=now
            )
        if action == "activate":
            schedule = spec_of(strategy).schedule
            if schedule is not None and strategy.next_run_at is None:
                strategy.next_run_at = schedule.start_at
        if action == "end":
            strategy.next_run_at = None
        strategy.status = target
        strategy.version += 1
        strategy.updated_at = now
        session.add(strategy)
    return strategy


def get_strategy(*, engine: Engine, actor: Actor, strategy_id: str) -> Strategy:
    with read_session(engine) as session:
        return _load(session, strategy_id, actor)


def list_revisions(*, engine: Engine, actor: Actor, strategy_id: str) -> list[StrategyRevision]:
    """Who authored, edited and approved each version of a strategy the actor may see."""
    with read_session(engine) as session:
        _load(session, strategy_id, actor)
        return revisions.history(session, strategy_id=strategy_id)


STRATEGY_ORDER = Sortable.of(Strategy, "strategy_id", "name", "status", "created_at", "updated_at")


def list_strategies(
    *,
    engine: Engine,
    actor: Actor,
    status: str = "",
    limit: int,
    after: str = "",
    sort: str = "",
    start: tuple[datetime, str] | None = None,
) -> list[Strategy]:
    """A page of the strategies in the actor's scope, by id or by `sort` (STRATEGY_ORDER) after the
    token or the `start` position."""
    with read_session(engine) as session:
        stmt = STRATEGY_ORDER.apply(_listed(actor, status), sort=sort, token=after, start=start)
        return list(session.exec(stmt.limit(limit)))


def count_strategies(*, engine: Engine, actor: Actor, status: str = "") -> int:
    """How many strategies `list_strategies` holds with this status: one COUNT of the same rows."""
    with read_session(engine) as session:
        return count_rows(session, _listed(actor, status))


def _listed(actor: Actor, status: str) -> SelectOfScalar[Strategy]:
    stmt = select(Strategy)
    if status:
        stmt = stmt.where(Strategy.status == status)
    if actor.branch is not None:
        stmt = stmt.where(Strategy.branch == actor.branch)
    return stmt


def active_for_event(session: Session, event_type: str) -> list[Strategy]:
    """Active strategies triggered by one event type: an index lookup, whatever the total number."""
    stmt = select(Strategy).where(Strategy.trigger_event_type == event_type, Strategy.status == "active")
    return list(session.exec(stmt))


def is_goal_event(session: Session, event_type: str) -> bool:
    stmt = select(Strategy.strategy_id).where(Strategy.goal_event_type == event_type).limit(1)
    return session.exec(stmt).first() is not None
