"""Insight and match: an event (or a schedule run) becomes one delivery per eligible customer."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from services.reach import profiles
from services.reach.models import AudienceProfile, Delivery, GoalEvent, Strategy
from services.reach.segments import event_record, matches, profile_record
from services.reach.spec import StrategySpec
from services.reach.strategies import active_for_event, is_goal_event

_SPECS: dict[tuple[str, int], StrategySpec] = {}


@dataclass(frozen=True)
class TriggerEvent:
    """A behaviour or domain event about one customer, as trigger matching sees it."""

    event_id: str
    customer_id: str
    app_id: str
    type: str
    occurred_at: datetime
    properties: Mapping[str, str] = field(default_factory=dict)


def cached_spec(strategy: Strategy) -> StrategySpec:
    """The parsed spec of one strategy version (specs never change within a version)."""
    key = (strategy.strategy_id, strategy.version)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) > 10_000:
            _SPECS.clear()
        spec = _SPECS[key] = StrategySpec.model_validate(strategy.spec)
    return spec


def in_control_group(*, strategy_id: str, customer_id: str, share_bp: int) -> bool:
    """Deterministic hold-out: the same customer is always on the same side of one strategy."""
    if share_bp <= 0:
        return False
    digest = hashlib.sha256(f"{strategy_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < share_bp


def in_audience(strategy: Strategy, spec: StrategySpec, profile: AudienceProfile, *, now: datetime) -> bool:
    """Who: the segment holds, and a branch strategy only reaches its own branch's customers."""
    if strategy.branch is not None and profile.branch != strategy.branch:
        return False
    return matches(spec.segment, profile_record(profile, now=now))


def _recently_contacted(session: Session, *, strategy_id: str, customer_id: str, since: datetime) -> bool:
    stmt = select(Delivery.delivery_id).where(
        Delivery.strategy_id == strategy_id,
        Delivery.customer_id == customer_id,
        col(Delivery.created_at) > since,
        col(Delivery.status).in_(["pending", "held", "sending", "delivered"]),
    )
    return session.exec(stmt.limit(1)).first() is not None


def create_delivery(
    session: Session,
    *,
    strategy: Strategy,
    spec: StrategySpec,
    customer_id: str,
    trigger_key: str,
    app_id: str,
    triggered_at: datetime,
    variables: Mapping[str, str],
    now: datetime,
) -> Delivery | None:
    """A delivery for one customer and one trigger; None when this trigger was already handled."""
    exists = select(Delivery.delivery_id).where(
        Delivery.strategy_id == strategy.strategy_id,
        Delivery.customer_id == customer_id,
        Delivery.trigger_key == trigger_key,
    )
    if session.exec(exists).first() is not None:
        return None
    delay = timedelta(seconds=spec.trigger.delay_s if spec.trigger else 0)
    delivery = Delivery(
        delivery_id=str(uuid.uuid4()),
        strategy_id=strategy.strategy_id,
        customer_id=customer_id,
        trigger_key=trigger_key[:160],
        app_id=app_id,
        variables=dict(variables),
        triggered_at=triggered_at,
        not_before=triggered_at + delay,
        valid_until=triggered_at + timedelta(seconds=spec.validity_s),
        created_at=now,
    )
    if spec.kind == "marketing" and in_control_group(
        strategy_id=strategy.strategy_id, customer_id=customer_id, share_bp=spec.control_share_bp
    ):
        delivery.control, delivery.status, delivery.reason = True, "suppressed", "control_group"
    elif spec.min_interval_s and _recently_contacted(
        session,
        strategy_id=strategy.strategy_id,
        customer_id=customer_id,
        since=now - timedelta(seconds=spec.min_interval_s),
    ):
        delivery.status, delivery.reason = "suppressed", "duplicate"
    session.add(delivery)
    return delivery


def match_event(session: Session, *, event: TriggerEvent, now: datetime) -> list[str]:
    """Project the event, keep it if it is a conversion goal, and return the deliveries to dispatch."""
    occurred = min(event.occurred_at, now)
    profile = profiles.apply_event(
        session,
        customer_id=event.customer_id,
        app_id=event.app_id,
        event_type=event.type,
        occurred_at=occurred,
        properties=event.properties,
        now=now,
    )
    if is_goal_event(session, event.type) and session.get(GoalEvent, event.event_id) is None:
        session.add(
            GoalEvent(
                event_id=event.event_id,
                customer_id=event.customer_id,
                event_type=event.type,
                occurred_at=occurred,
            )
        )
    due: list[str] = []
    facts = event_record(app_id=event.app_id, properties=event.properties)
    for strategy in active_for_event(session, event.type):
        spec = cached_spec(strategy)
        if spec.trigger is None or not matches(spec.trigger.predicates, facts):
            continue
        if not in_audience(strategy, spec, profile, now=now):
            continue
        delivery = create_delivery(
            session,
            strategy=strategy,
            spec=spec,
            customer_id=event.customer_id,
            trigger_key=event.event_id,
            app_id=event.app_id,
            triggered_at=occurred,
            variables=event.properties,
            now=now,
        )
        if delivery is not None and delivery.status == "pending":
            due.append(delivery.delivery_id)
    return due


def run_schedule(session: Session, *, strategy: Strategy, run_at: datetime, now: datetime) -> list[str]:
    """One run of a scheduled strategy over its whole audience."""
    spec = cached_spec(strategy)
    due: list[str] = []
    for profile in profiles.iter_profiles(session, branch=strategy.branch):
        if not in_audience(strategy, spec, profile, now=now):
            continue
        delivery = create_delivery(
            session,
            strategy=strategy,
            spec=spec,
            customer_id=profile.customer_id,
            trigger_key=f"schedule:{run_at.isoformat()}",
            app_id="",
            triggered_at=run_at,
            variables={},
            now=now,
        )
        if delivery is not None and delivery.status == "pending":
            due.append(delivery.delivery_id)
    return due
