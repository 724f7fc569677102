"""The consumers' exactly-once store: a consumed event's effect commits with its processed-message row,
so a redelivered event (an ack lost, a publisher's retry past JetStream's duplicate window) is
applied once. `idempotent` handles one delivery in its own transaction; `idempotent_batch` applies a
fetched batch as one write unit (services/runtime/bus.py hands it the batch)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from contextlib import nullcontext as _no_span
from functools import partial

from opentelemetry import trace
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

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


# which of a batch's events a consumer already processed (one query per batch), and its rows written
_PROCESSED = ProcessedMessage.__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
_ALREADY_PROCESSED = select(_PROCESSED.c.event_id).where(
    _PROCESSED.c.consumer == bindparam("consumer"),
    _PROCESSED.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
_RECORD_PROCESSED = _PROCESSED.insert()
Apply = Callable[[Session, Delivery], None]


def _new_events(session: Session, consumer: str, deliveries: Sequence[Delivery]) -> list[Delivery]:
    """The first delivery of each event of the batch that the consumer has not processed yet."""
    seen = set(
        session.connection()
        .execute(_ALREADY_PROCESSED, {"consumer": consumer, "event_ids": [d.event_id for d in deliveries]})
        .scalars()
    )
    new = []
    for delivery in deliveries:
        if delivery.event_id not in seen:
            seen.add(delivery.event_id)
            new.append(delivery)
    return new


def _record_processed(session: Session, consumer: str, deliveries: Sequence[Delivery]) -> None:
    now = utcnow()
    session.connection().execute(
        _RECORD_PROCESSED,
        [{"consumer": consumer, "event_id": d.event_id, "processed_at": now} for d in deliveries],
    )


def _in_its_span(delivery: Delivery, *, record_failure: bool) -> AbstractContextManager[object]:
    """The delivery's consumer span made current around its work (what it logs and traces belongs to
    its trace); a failure is recorded on it only when it is the delivery's own outcome."""
    if delivery.span is None:
        return _no_span()
    return trace.use_span(
        delivery.span,
        end_on_exit=False,
        record_exception=record_failure,
        set_status_on_exception=record_failure,
    )


def _apply_together(session: Session, consumer: str, apply: Apply, new: Sequence[Delivery]) -> bool:
    """Apply every new delivery in one savepoint; False (the savepoint rolled back, nothing of the
    attempt kept) if any of it raised."""
    try:
        with session.begin_nested():
            for delivery in new:
                with _in_its_span(delivery, record_failure=False):
                    apply(session, delivery)
                    session.flush()  # as a savepoint's release did: the next delivery sees its effect
            _record_processed(session, consumer, new)
    except Exception:
        return False
    return True


def _apply_alone(session: Session, consumer: str, apply: Apply, delivery: Delivery) -> BaseException | None:
    """Apply one delivery in its own savepoint: its failure rolls back it alone and is its outcome."""
    with _in_its_span(delivery, record_failure=True):
        try:
            with session.begin_nested():
                _record_processed(session, consumer, (delivery,))
                apply(session, delivery)
        except Exception as exc:
            return exc
    return None


def idempotent_batch(engine: Engine, consumer: str, apply: Apply) -> BatchHandler:
    """The batch form of `idempotent`: a fetched batch is one write unit (one commit, one fsync,
    through the engine's group committer on SQLite: services/runtime/group_commit.py).

    The batch's new events are applied one after the other in one savepoint, their processed-message
    rows written in one statement. If any of that raises, the savepoint is rolled back (nothing of
    the attempt is kept: rows, counters added at commit) and the batch is applied again with each
    delivery in its own savepoint with its processed-message row, so that a delivery whose work
    raises is rolled back alone (its outcome is the exception: retried or dead-lettered by the bus as
    with `idempotent`). `apply` must keep its effects in the session: it may run twice for a batch.
    One already processed (before, or earlier in the batch) is skipped. Outcomes are reported only
    after the commit, so a message is acked only once its effect is durable; if the commit fails
    the batch raises and the bus hands each message to the per-message handler.
    """

    def work(deliveries: Sequence[Delivery], session: Session) -> list[BaseException | None]:
        new = _new_events(session, consumer, deliveries)
        if not new or _apply_together(session, consumer, apply, new):
            return [None] * len(deliveries)
        alone = {d.event_id: _apply_alone(session, consumer, apply, d) for d in new}
        return [alone.get(d.event_id) for d in deliveries]

    async def handle(deliveries: Sequence[Delivery]) -> Sequence[BaseException | None]:
        return await asyncio.to_thread(write_unit, engine, partial(work, deliveries))

    return handle
