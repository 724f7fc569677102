"""Retention: bookkeeping rows that only matter for a while are deleted, in small batches.

Published outbox rows are kept for `OUTBOX_RETENTION_DAYS` (for tracing an event back to its
write), idempotent-consumer records for `PROCESSED_RETENTION_DAYS` (far beyond any redelivery: an
acknowledged message is never redelivered to its durable consumer, an unacknowledged one only within
`max_deliver * ack_wait`). Unpublished outbox rows are never deleted. Services add their own rules
(e.g. content's per-day frequency-cap counts); business history — the benefits ledger, audit
trails, consents — is never subject to retention.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, tuple_
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.runtime.clock import utcnow
from services.runtime.db import transaction
from services.runtime.errors import Unavailable
from services.runtime.outbox import OutboxEvent, ProcessedMessage
from services.runtime.periodic import run_periodically

logger = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True)
class Rule:
    """Rows of `model` (keyed by `key`) that `expired(now)` selects may be deleted."""

    name: str
    model: Any
    key: Sequence[Any]
    expired: Callable[[datetime], Any]


def platform_rules(*, outbox_days: float, processed_days: float) -> list[Rule]:
    return [
        Rule(
            "outbox_event",
            OutboxEvent,
            (OutboxEvent.id,),
            lambda now: col(OutboxEvent.published_at) < now - timedelta(days=outbox_days),
        ),
        Rule(
            "processed_message",
            ProcessedMessage,
            (ProcessedMessage.consumer, ProcessedMessage.event_id),
            lambda now: col(ProcessedMessage.processed_at) < now - timedelta(days=processed_days),
        ),
    ]


def purge(engine: Engine, rule: Rule, *, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete what `rule` selects, one short transaction per batch; returns how many rows went."""
    now = now or utcnow()
    total = 0
    while True:
        key = tuple_(*rule.key) if len(rule.key) > 1 else rule.key[0]
        chosen = select(*rule.key).where(rule.expired(now)).limit(batch)
        with transaction(engine) as session:
            deleted = session.connection().execute(delete(rule.model).where(key.in_(chosen))).rowcount
        total += deleted
        if deleted < batch:
            return total


async def run_retention(*, engine: Engine, rules: list[Rule], interval_s: float) -> None:
    """Purge every rule now and then at every interval, until cancelled."""

    async def purge_all() -> None:
        for rule in rules:  # one rule failing leaves the others to run
            try:
                deleted = await asyncio.to_thread(purge, engine, rule)
                if deleted:
                    logger.info("retention: deleted %d %s rows", deleted, rule.name)
            except Unavailable:
                logger.warning("retention of %s skipped: the database is busy", rule.name)
            except Exception:
                logger.exception("retention of %s failed; retrying at the next interval", rule.name)

    await run_periodically(purge_all, name="retention", interval_s=interval_s)
