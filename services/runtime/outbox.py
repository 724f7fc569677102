"""Transactional outbox: events are rows written with the change, then relayed to JetStream."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime

from google.protobuf.message import Message
from opentelemetry.propagate import inject
from sqlalchemy import Column, LargeBinary
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select, update

from services.runtime.clock import utcnow
from services.runtime.waiting import wake_or_timeout

logger = logging.getLogger(__name__)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"

    id: str = Field(primary_key=True, max_length=36)
    subject: str = Field(max_length=200)
    event_type: str = Field(max_length=200)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    trace_headers: str = Field(default="{}", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    published_at: datetime | None = Field(default=None, index=True)


class ProcessedMessage(SQLModel, table=True):
    """Events a durable consumer has applied; the key makes every consumer idempotent."""

    __tablename__ = "processed_message"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=100)
    processed_at: datetime = Field(default_factory=utcnow)


def record_event(session: Session, subject: str, message: Message, *, event_id: str | None = None) -> str:
    """Write an event in the caller's transaction; the relay publishes it after commit."""
    carrier: dict[str, str] = {}
    inject(carrier)
    event = OutboxEvent(
        id=event_id or str(uuid.uuid4()),
        subject=subject,
        event_type=message.DESCRIPTOR.full_name,
        payload=message.SerializeToString(),
        trace_headers=json.dumps(carrier),
    )
    session.add(event)
    return event.id


class OutboxRelay:
    """Publishes committed outbox rows to JetStream with `Nats-Msg-Id` = event id, in order."""

    def __init__(self, *, engine: Engine, bus, poll_interval_s: float = 0.5, batch: int = 100) -> None:  # type: ignore[no-untyped-def]
        self._engine = engine
        self._bus = bus
        self._poll = poll_interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._stopping = False

    def stop(self) -> None:
        """Finish the current pass and leave `run()` (a cancellation alone can be lost in a library)."""
        self._stopping = True
        self._wake.set()

    def notify(self) -> None:
        """Ask for a relay pass now (called after a transaction that wrote events commits)."""
        self._wake.set()

    def _pending(self) -> list[OutboxEvent]:
        with Session(self._engine) as session:
            stmt = (
                select(OutboxEvent)
                .where(col(OutboxEvent.published_at).is_(None))
                .order_by(col(OutboxEvent.created_at))
                .limit(self._batch)
            )
            return list(session.exec(stmt))

    def _mark_published(self, ids: list[str]) -> None:
        with Session(self._engine) as session, session.begin():
            session.exec(
                update(OutboxEvent).where(col(OutboxEvent.id).in_(ids)).values(published_at=utcnow())
            )

    async def relay_once(self) -> int:
        pending = await asyncio.to_thread(self._pending)
        published: list[str] = []
        try:
            for event in pending:
                await self._bus.publish(
                    event.subject,
                    event.payload,
                    event_id=event.id,
                    event_type=event.event_type,
                    trace_headers=json.loads(event.trace_headers or "{}"),
                )
                published.append(event.id)
        finally:
            if published:
                await asyncio.to_thread(self._mark_published, published)
        return len(published)

    async def run(self) -> None:
        backoff = self._poll
        while not self._stopping:
            try:
                count = await self.relay_once()
                backoff = self._poll
                if count == self._batch:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("outbox relay pass failed; retrying", exc_info=True)
                backoff = min(backoff * 2, 5.0)
            self._wake.clear()
            await wake_or_timeout(self._wake, backoff)
