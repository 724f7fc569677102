"""The scheduler: releases held and delayed deliveries, retries sends and actions, runs schedules."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import col, select

from services.reach.dispatch import SENDING_LEASE
from services.reach.engine import ReachEngine
from services.reach.matching import cached_spec, run_schedule
from services.reach.models import Delivery, Strategy
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.periodic import run_periodically

logger = logging.getLogger(__name__)
BATCH = 200


def _due_deliveries(reach: ReachEngine, now: datetime) -> list[str]:
    with read_session(reach.engine) as session:
        waiting = select(Delivery.delivery_id).where(
            col(Delivery.status).in_(["pending", "held"]), col(Delivery.not_before) <= now
        )
        stale = select(Delivery.delivery_id).where(
            Delivery.status == "sending", col(Delivery.claimed_at) < now - SENDING_LEASE
        )
        return list(session.exec(waiting.order_by(col(Delivery.not_before)).limit(BATCH))) + list(
            session.exec(stale.limit(BATCH))
        )


def _pending_actions(reach: ReachEngine) -> list[str]:
    with read_session(reach.engine) as session:
        stmt = select(Delivery.delivery_id).where(
            Delivery.status == "delivered", Delivery.action_state == "pending"
        )
        return list(session.exec(stmt.limit(BATCH)))


def _due_schedules(reach: ReachEngine, now: datetime) -> list[tuple[str, datetime]]:
    with read_session(reach.engine) as session:
        stmt = select(Strategy.strategy_id, Strategy.next_run_at).where(
            Strategy.status == "active", col(Strategy.next_run_at) <= now
        )
        return [(sid, run_at) for sid, run_at in session.exec(stmt.limit(BATCH)) if run_at is not None]


def _claim_run(reach: ReachEngine, strategy_id: str, run_at: datetime, now: datetime) -> list[str]:
    """Advance the strategy's next run and create its deliveries, in one transaction (one replica wins)."""
    with transaction(reach.engine) as session:
        strategy = session.get(Strategy, strategy_id)
        if strategy is None or strategy.status != "active" or strategy.next_run_at != run_at:
            return []
        schedule = cached_spec(strategy).schedule
        every = schedule.every_s if schedule else 0
        next_run = run_at + timedelta(seconds=every) if every else None
        while next_run is not None and next_run <= now:
            next_run += timedelta(seconds=every)
        strategy.next_run_at = next_run
        session.add(strategy)
        return run_schedule(session, strategy=strategy, run_at=run_at, now=now)


async def run_due(reach: ReachEngine, *, now: datetime | None = None) -> int:
    """One pass: schedules, due deliveries (quiet-hour releases, delays, retries), pending actions."""
    now = now or utcnow()
    handled = 0
    for strategy_id, run_at in await asyncio.to_thread(_due_schedules, reach, now):
        for delivery_id in await asyncio.to_thread(_claim_run, reach, strategy_id, run_at, now):
            await reach.dispatch(delivery_id, now=now)
            handled += 1
    for delivery_id in await asyncio.to_thread(_due_deliveries, reach, now):
        await reach.dispatch(delivery_id, now=now)
        handled += 1
    for delivery_id in await asyncio.to_thread(_pending_actions, reach):
        await reach.run_action(delivery_id, now=now)
    return handled


async def run_forever(reach: ReachEngine, *, interval_s: float) -> None:
    """The scheduler loop of a reach process; several replicas may run it (claims are atomic)."""
    await run_periodically(partial(run_due, reach), name="reach scheduler pass", interval_s=interval_s)
