"""The runtime's storage on SQLite and on PostgreSQL: migrations, outbox atomicity, no lost update,
idempotent consumers, lock timeouts as retryable errors."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lattice.identity.v1 import events_pb2
from sqlalchemy import inspect, text
from sqlmodel import Field, SQLModel, select

from services.runtime.bus import Delivery
from services.runtime.db import make_engine, migrate, transaction
from services.runtime.deadlines import current_deadline
from services.runtime.errors import Unavailable
from services.runtime.exactly_once import idempotent
from services.runtime.outbox import OutboxEvent, ProcessedMessage, record_event
from tests.support.databases import DATABASE_KINDS, fresh_database_url

pytestmark = pytest.mark.parametrize("kind", DATABASE_KINDS)


class StorageCounter(SQLModel, table=True):
    __tablename__ = "test_storage_counter"

    id: int = Field(primary_key=True)
    value: int = 0


@pytest.fixture
def engine(kind: str, tmp_path: Path):
    with fresh_database_url(kind, tmp_path) as url:
        engine = make_engine(url, busy_timeout_s=0.5)
        migrate(engine, "conversion")
        StorageCounter.__table__.create(engine)
        yield engine
        engine.dispose()


def test_migrations_are_idempotent(engine, kind: str) -> None:
    migrate(engine, "conversion")
    tables = set(inspect(engine).get_table_names())
    assert {"outbox_event", "processed_message", "partner_profile", "alembic_version"} <= tables


def test_event_and_change_commit_or_roll_back_together(engine, kind: str) -> None:
    event = events_pb2.PartnerRegistered(partner_id="ride", name="Ride")
    with pytest.raises(RuntimeError), transaction(engine) as session:
        session.add(StorageCounter(id=1, value=1))
        record_event(session, "identity.partner.registered", event)
        raise RuntimeError("business rule failed after the event was written")
    with transaction(engine) as session:
        assert session.exec(select(OutboxEvent)).all() == []
        assert session.get(StorageCounter, 1) is None
        session.add(StorageCounter(id=1, value=1))
        event_id = record_event(session, "identity.partner.registered", event)
    with transaction(engine) as session:
        stored = session.get(OutboxEvent, event_id)
        assert stored is not None and stored.published_at is None
        assert events_pb2.PartnerRegistered.FromString(stored.payload).partner_id == "ride"


def test_concurrent_read_modify_write_loses_no_update(engine, kind: str) -> None:
    with transaction(engine) as session:
        session.add(StorageCounter(id=1, value=0))

    def increment() -> None:
        for _ in range(100):
            try:
                with transaction(engine) as session:
                    row = session.exec(
                        select(StorageCounter).where(StorageCounter.id == 1).with_for_update()
                    ).one()
                    row.value += 1
                    session.add(row)
                return
            except Unavailable:
                continue

    with ThreadPoolExecutor(max_workers=8) as pool:
        for f in [pool.submit(increment) for _ in range(40)]:
            f.result()
    with transaction(engine) as session:
        assert session.get(StorageCounter, 1).value == 40


def test_idempotent_consumer_applies_a_redelivered_event_once(engine, kind: str) -> None:
    import asyncio

    with transaction(engine) as session:
        session.add(StorageCounter(id=7, value=0))

    def apply(session, delivery: Delivery) -> None:
        row = session.get(StorageCounter, 7)
        row.value += 1
        session.add(row)

    handler = idempotent(engine, "test-consumer", apply)
    delivery = Delivery(subject="x.y.z", data=b"", event_id="evt-1", event_type="", num_delivered=1)

    async def deliver_three_times() -> None:
        for n in (1, 2, 3):
            delivery.num_delivered = n
            await handler(delivery)

    asyncio.run(deliver_three_times())
    with transaction(engine) as session:
        assert session.get(StorageCounter, 7).value == 1
        assert len(session.exec(select(ProcessedMessage)).all()) == 1


def test_a_lock_held_too_long_is_a_retryable_unavailable(engine, kind: str) -> None:
    with transaction(engine) as session:
        session.add(StorageCounter(id=3, value=0))
    holding = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with transaction(engine) as session:
            session.exec(select(StorageCounter).where(StorageCounter.id == 3).with_for_update()).one()
            session.exec(text("UPDATE test_storage_counter SET value = value + 1 WHERE id = 3"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert holding.wait(5)
    try:
        with pytest.raises(Unavailable) as err, transaction(engine) as session:
            session.exec(select(StorageCounter).where(StorageCounter.id == 3).with_for_update()).one()
        assert err.value.reason == "database_busy"
    finally:
        release.set()
        holder.join()


def test_a_lock_wait_ends_before_the_callers_deadline(kind: str, tmp_path: Path) -> None:
    with fresh_database_url(kind, tmp_path) as url:
        engine = make_engine(url, busy_timeout_s=5.0)  # longer than the caller will wait
        try:
            migrate(engine, "conversion")
            StorageCounter.__table__.create(engine)
            with transaction(engine) as session:
                session.add(StorageCounter(id=4, value=0))
            holding, release = threading.Event(), threading.Event()

            def hold_lock() -> None:
                with transaction(engine) as session:
                    session.exec(text("UPDATE test_storage_counter SET value = value + 1 WHERE id = 4"))
                    holding.set()
                    release.wait(10)

            holder = threading.Thread(target=hold_lock)
            holder.start()
            assert holding.wait(5)
            token = current_deadline.set(time.monotonic() + 1.0)
            started = time.monotonic()
            try:
                with pytest.raises(Unavailable), transaction(engine) as session:
                    session.exec(text("UPDATE test_storage_counter SET value = value + 1 WHERE id = 4"))
                waited = time.monotonic() - started
            finally:
                current_deadline.reset(token)
                release.set()
                holder.join()
            # busy within the deadline (less the margin to answer), not after the 5 s busy timeout
            assert waited < 1.0, waited
            with transaction(engine) as session:  # without a deadline the default applies again
                assert session.get(StorageCounter, 4).value == 1
        finally:
            engine.dispose()
