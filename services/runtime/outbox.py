"""Transactional outbox: events are rows written with the change, then relayed to JetStream."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message
from opentelemetry.propagate import inject
from sqlalchemy import Column, LargeBinary, insert
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select, update

from services.runtime.clock import utcnow
from services.runtime.db import read_session
from services.runtime.wakeups import Wakeup, stop_waking, wake_after_commit, wake_on_commit

logger = logging.getLogger(__name__)
OUTBOX_TOPIC = "outbox"  # commits that wrote events wake the relay (services/runtime/wakeups.py)


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


@dataclass(frozen=True)
class Outgoing:
    """One event to publish: its subject, bytes, id (`Nats-Msg-Id`), type and the trace it belongs to."""

    subject: str
    payload: bytes
    event_id: str
    event_type: str
    trace_headers: dict[str, str] | None = None


_INSERT_EVENT = insert(OutboxEvent.__table__)  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it


def record_event(session: Session, subject: str, message: Message, *, event_id: str | None = None) -> str:
    """Write an event in the caller's transaction; the relay publishes it after commit.

    A Core insert on the session's connection, now (no ORM object for the unit of work to flush)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    row = {
        "id": event_id or str(uuid.uuid4()),
        "subject": subject,
        "event_type": message.DESCRIPTOR.full_name,
        "payload": message.SerializeToString(),
        "trace_headers": json.dumps(carrier),
        "created_at": utcnow(),
        "published_at": None,
    }
    session.connection().execute(_INSERT_EVENT, row)
    wake_after_commit(session, OUTBOX_TOPIC)
    return str(row["id"])


class OutboxRelay:
    """Publishes committed outbox rows to JetStream with `Nats-Msg-Id` = event id, in order.

    Woken by every commit in this process that wrote events (`record_event`), so an event leaves
    within a round trip of its transaction; the poll interval only bounds how late rows written by
    another process (a replica, a tool) or left by a failed pass are picked up. A pass sends its
    batch without waiting for each acknowledgement and marks published the acknowledged prefix.
    """

    def __init__(self, *, engine: Engine, bus, poll_interval_s: float = 0.5, batch: int = 100) -> None:  # type: ignore[no-untyped-def]  # any bus with publish_batch (the JetStream Bus or a test double)
        self._engine = engine
        self._bus = bus
        self._poll = poll_interval_s
        self._batch = batch
        self._wake = Wakeup()
        self._stopping = False
        wake_on_commit(engine, OUTBOX_TOPIC, self._wake)

    def stop(self) -> None:
        """Finish the current pass and leave `run()` (a cancellation alone can be lost in a library)."""
        self._stopping = True
        stop_waking(self._engine, OUTBOX_TOPIC, self._wake)
        self._wake.set()

    def notify(self) -> None:
        """Ask for a relay pass now (commits that wrote events here do so themselves); any thread."""
        self._wake.set()

    def _pending(self) -> list[OutboxEvent]:
        with read_session(self._engine) as session:  # no write lock for a read
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
        if not pending:
            return 0
        acked: int = await self._bus.publish_batch(
            [
                Outgoing(
                    subject=e.subject,
                    payload=e.payload,
                    event_id=e.id,
                    event_type=e.event_type,
                    trace_headers=json.loads(e.trace_headers or "{}"),
                )
                for e in pending
            ]
        )
        if acked:
            await asyncio.to_thread(self._mark_published, [e.id for e in pending[:acked]])
        if acked < len(pending):
            raise PublishIncomplete(f"{len(pending) - acked} of {len(pending)} events not acknowledged")
        return acked

    async def run(self) -> None:
        backoff = self._poll
        while not self._stopping:
            # cleared before the pass reads the rows: a commit during the pass wakes the next one
            self._wake.clear()
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
            await self._wake.wait(backoff)


class PublishIncomplete(RuntimeError):
    """JetStream did not acknowledge every event of a pass; the rest go again on the next one."""
