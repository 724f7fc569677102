"""Dry runs before a strategy goes live, and its review (復盤) afterwards."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import sqrt
from statistics import NormalDist

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.reach import profiles
from services.reach.matching import cached_spec, in_audience, in_control_group
from services.reach.models import Delivery, GoalEvent
from services.reach.policy import opted_in
from services.reach.strategies import Actor, get_strategy
from services.runtime.db import read_session
from services.runtime.errors import InvalidInput

CLOSED = ("suppressed", "dropped", "failed")
_CHUNK = 500
_Z95 = NormalDist().inv_cdf(0.975)


@dataclass
class DryRun:
    audience: int = 0
    control: int = 0
    touchpoints: Counter[str] = field(default_factory=Counter)
    unreachable: int = 0


@dataclass
class GroupOutcome:
    customers: int = 0
    converted: int = 0

    @property
    def rate(self) -> float:
        return self.converted / self.customers if self.customers else 0.0


@dataclass
class Review:
    audience: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    held: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    treatment: GroupOutcome = field(default_factory=GroupOutcome)
    control: GroupOutcome = field(default_factory=GroupOutcome)

    @property
    def uplift(self) -> float:
        return self.treatment.rate - self.control.rate

    @property
    def measurable(self) -> bool:
        """Uplift means something only with customers in both groups (a control group was held out)."""
        return self.treatment.customers > 0 and self.control.customers > 0

    def uplift_interval(self) -> tuple[float, float]:
        """95% interval of treatment rate - control rate (Newcombe's hybrid score); (0, 0) unmeasurable."""
        if not self.measurable:
            return 0.0, 0.0
        t_low, t_high = _wilson(self.treatment)
        c_low, c_high = _wilson(self.control)
        t, c = self.treatment.rate, self.control.rate
        low = (t - c) - sqrt((t - t_low) ** 2 + (c_high - c) ** 2)
        high = (t - c) + sqrt((t_high - t) ** 2 + (c - c_low) ** 2)
        return max(low, -1.0), min(high, 1.0)


def _wilson(group: GroupOutcome) -> tuple[float, float]:
    """Wilson score interval of a group's conversion rate (behaves at 0% and 100%, unlike Wald)."""
    n, p, z = group.customers, group.rate, _Z95
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def dry_run(*, engine: Engine, actor: Actor, strategy_id: str, now: datetime) -> DryRun:
    """Who would be reached, and through which touchpoint first (by consent); sends nothing."""
    strategy = get_strategy(engine=engine, actor=actor, strategy_id=strategy_id)
    spec = cached_spec(strategy)
    result = DryRun()
    with read_session(engine) as session:
        for profile in profiles.iter_profiles(session, branch=strategy.branch):
            if not in_audience(strategy, spec, profile, now=now):
                continue
            result.audience += 1
            if spec.kind == "marketing" and in_control_group(
                strategy_id=strategy.strategy_id,
                customer_id=profile.customer_id,
                share_bp=spec.control_share_bp,
            ):
                result.control += 1
                continue
            channel = next(
                (
                    t.channel
                    for t in spec.touchpoints
                    if spec.kind == "transactional"
                    or opted_in(
                        session, customer_id=profile.customer_id, channel=t.channel, purpose=spec.purpose
                    )
                ),
                None,
            )
            if channel is None:
                result.unreachable += 1
            else:
                result.touchpoints[channel] += 1
    return result


def review(*, engine: Engine, actor: Actor, strategy_id: str, start: datetime, end: datetime) -> Review:
    """Outcomes of the deliveries created in [start, end), and conversion of treatment vs control."""
    if end <= start or end - start > timedelta(days=366):
        raise InvalidInput("invalid_window", "the window must be positive and at most a year")
    strategy = get_strategy(engine=engine, actor=actor, strategy_id=strategy_id)
    spec = cached_spec(strategy)
    result = Review()
    first_contact: dict[tuple[str, bool], datetime] = {}
    with read_session(engine) as session:
        rows = session.exec(
            select(Delivery).where(
                Delivery.strategy_id == strategy_id,
                col(Delivery.created_at) >= start,
                col(Delivery.created_at) < end,
            )
        )
        for d in rows:
            result.sent += d.sent_at is not None
            result.delivered += d.status == "delivered"
            result.opened += d.opened_at is not None
            result.held += d.held_until is not None
            if d.status in CLOSED:
                result.suppressed[d.reason or d.status] += 1
            key = (d.customer_id, d.control)
            first_contact[key] = min(first_contact.get(key, d.triggered_at), d.triggered_at)
        converted = _converted(
            session, spec.goal_event_type, first_contact, timedelta(seconds=spec.conversion_window_s)
        )
    result.audience = len({customer for customer, _ in first_contact})
    for (customer, control), _ in first_contact.items():
        group = result.control if control else result.treatment
        group.customers += 1
        group.converted += (customer, control) in converted
    return result


def _converted(session, goal: str, first_contact: dict[tuple[str, bool], datetime], window: timedelta) -> set:  # type: ignore[no-untyped-def,type-arg]  # a SQLModel session and a set of row keys of mixed types
    """Which (customer, group) pairs had the goal event within the window after their first trigger."""
    if not goal or not first_contact:
        return set()
    customers = sorted({c for c, _ in first_contact})
    hits: set[tuple[str, bool]] = set()
    for i in range(0, len(customers), _CHUNK):
        chunk = customers[i : i + _CHUNK]
        stmt = select(GoalEvent.customer_id, GoalEvent.occurred_at).where(
            GoalEvent.event_type == goal, col(GoalEvent.customer_id).in_(chunk)
        )
        for customer_id, occurred_at in session.exec(stmt):
            for control in (False, True):
                started = first_contact.get((customer_id, control))
                if started is not None and started < occurred_at <= started + window:
                    hits.add((customer_id, control))
    return hits


def list_deliveries(
    *, engine: Engine, actor: Actor, strategy_id: str, limit: int, after: str = ""
) -> list[Delivery]:
    get_strategy(engine=engine, actor=actor, strategy_id=strategy_id)
    with read_session(engine) as session:
        stmt = select(Delivery).where(Delivery.strategy_id == strategy_id, col(Delivery.delivery_id) > after)
        return list(session.exec(stmt.order_by(col(Delivery.delivery_id)).limit(limit)))
