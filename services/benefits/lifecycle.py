"""Time-driven changes: holds released after their TTL, lots expired at their end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from lattice.benefits.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.benefits import ledger
from services.benefits.holds import release_in
from services.benefits.models import Grant, Redemption
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.outbox import record_event
from services.runtime.periodic import run_periodically
from services.runtime.proto_mapping import to_proto

logger = logging.getLogger(__name__)


def release_due_holds(*, engine: Engine, now: datetime | None = None, batch: int = 200) -> int:
    """Release holds whose TTL has passed; each in its own short transaction."""
    now = now or utcnow()
    with read_session(engine) as session:
        due = session.exec(
            select(Redemption.redemption_id)
            .where(Redemption.status == "held", col(Redemption.hold_expires_at) <= now)
            .limit(batch)
        ).all()
    released = 0
    for redemption_id in due:
        with transaction(engine) as session:
            redemption = ledger.locked(session, Redemption, redemption_id)
            if redemption and redemption.status == "held":
                release_in(session, redemption=redemption, status="released", now=now)
                released += 1
    return released


def expire_due_grants(*, engine: Engine, now: datetime | None = None, batch: int = 200) -> int:
    """Move what is left on lots past their end to the expired sink."""
    now = now or utcnow()
    with read_session(engine) as session:
        due = session.exec(
            select(Grant.grant_id).where(Grant.status == "active", col(Grant.expires_at) <= now).limit(batch)
        ).all()
    expired = 0
    for grant_id in due:
        with transaction(engine) as session:
            grant = ledger.locked(session, Grant, grant_id)
            if grant is None or grant.status != "active":
                continue
            left = ledger.balance_of(session, ledger.grant_account(grant_id))
            ledger.post_entry(
                session,
                kind="expire",
                reference=grant_id,
                now=now,
                lines=[
                    (ledger.grant_account(grant_id), -left),
                    (ledger.expired_account(grant.benefit_id), left),
                ],
            )
            grant.status = "expired"
            session.add(grant)
            record_event(
                session,
                "benefits.grant.expired",
                to_proto(events_pb2.GrantExpired, grant, amount=left, occurred_at=now),  # what lapsed
            )
            expired += 1
    return expired


def expire_due(*, engine: Engine, now: datetime | None = None) -> tuple[int, int]:
    """Release due holds first (their value may return to lots that then expire)."""
    released = release_due_holds(engine=engine, now=now)
    return expire_due_grants(engine=engine, now=now), released


async def run_sweeper(*, engine: Engine, interval_s: float, notify: Callable[[], None]) -> None:
    """Sweep periodically until the service stops (the task is cancelled)."""

    async def sweep() -> None:
        expired, released = await asyncio.to_thread(expire_due, engine=engine)
        if expired or released:
            logger.info("sweep expired %s lots and released %s holds", expired, released)
            notify()

    await run_periodically(sweep, name="sweep", interval_s=interval_s, wait_first=True)
