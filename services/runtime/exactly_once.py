"""The consumers' exactly-once store: a consumed event's effect commits with its processed-message row,
so a redelivered event (an ack lost, a publisher's retry past JetStream's duplicate window) is
applied once. `idempotent` handles one delivery in its own transaction; `idempotent_batch` applies a
fetched batch as one write unit (services/runtime/bus.py hands it the batch)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import nullcontext as _no_span
from functools import partial

from opentelemetry import trace
from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.runtime.bus import BatchHandler, Delivery, Handler
from services.runtime.clock import utcnow
from services.runtime.db import transaction
from services.runtime.group_commit import write_unit
from services.runtime.outbox import ProcessedMessage


def idempotent(engine: Engine, consumer: str, apply: Callable[[Session, Delivery], None]) -> Handler:
    """Wrap a handler so that its effect and the processed-message row commit together, once."""

    def work(delivery: Delivery) -> None:
        with transaction(engine) as session:
            if session.get(ProcessedMessage, (consumer, delivery.event_id)) is not None:
                return
            session.add(
                ProcessedMessage(consumer=consumer, event_id=delivery.event_id, processed_at=utcnow())
            )
            apply(session, delivery)

    async def handle(delivery: Delivery) -> None:
        await asyncio.to_thread(work, delivery)

    return handle


def idempotent_batch(
    engine: Engine, consumer: str, apply: Callable[[Session, Delivery], None]
) -> BatchHandler:
    """The batch form of `idempotent`: a fetched batch is one write unit (one commit, one fsync,
    through the engine's group committer on SQLite: services/runtime/group_commit.py), each delivery
    in its own savepoint with its processed-message row.

    A delivery whose work raises is rolled back alone (its outcome is the exception: retried or
    dead-lettered by the bus as with `idempotent`); one already processed is skipped. Outcomes are
    reported only after the commit, so a message is acked only once its effect is durable; if the
    commit fails the batch raises and the bus hands each message to the per-message handler.
    """

    # which of a batch's events this consumer already processed: one query per batch
    processed = select(col(ProcessedMessage.event_id)).where(
        col(ProcessedMessage.consumer) == consumer,
        col(ProcessedMessage.event_id).in_(bindparam("event_ids", expanding=True)),
    )

    def work(deliveries: Sequence[Delivery], session: Session) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        done = set(session.execute(processed, {"event_ids": [d.event_id for d in deliveries]}).scalars())
        for delivery in deliveries:
            if delivery.event_id in done:  # processed before, or earlier in this batch
                outcomes.append(None)
                continue
            with trace.use_span(delivery.span, end_on_exit=False) if delivery.span else _no_span():
                try:
                    with session.begin_nested():
                        session.add(
                            ProcessedMessage(
                                consumer=consumer, event_id=delivery.event_id, processed_at=utcnow()
                            )
                        )
                        apply(session, delivery)
                    done.add(delivery.event_id)
                    outcomes.append(None)
                except Exception as exc:  # this delivery's savepoint is rolled back, not the batch
                    outcomes.append(exc)
        return outcomes

    async def handle(deliveries: Sequence[Delivery]) -> Sequence[BaseException | None]:
        return await asyncio.to_thread(write_unit, engine, partial(work, deliveries))

    return handle
