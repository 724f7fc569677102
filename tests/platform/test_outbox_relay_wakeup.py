"""The outbox relay is woken by the commit that wrote an event (in any thread), not by its poll, and
publishes a batch with its acknowledgements gathered: everything once, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import Engine

from services.runtime.bus import Bus
from services.runtime.db import make_engine, migrate, transaction
from services.runtime.outbox import OutboxRelay, record_event

NEVER_S = 3600.0  # the relay's poll: only a commit's wakeup can publish within the test


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('relay') / 'relay.db'}")
    migrate(engine, "conversion")
    return engine


@pytest.fixture
async def relay(engine: Engine, nats_url: str) -> AsyncIterator[OutboxRelay]:
    bus = await Bus.connect(nats_url, name="relay-test")
    relay = OutboxRelay(engine=engine, bus=bus, poll_interval_s=NEVER_S)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)
        await bus.close()


def _commit(engine: Engine, subject: str, seconds: list[int]) -> None:
    """One transaction writing one event per second value (the payload says which)."""
    with transaction(engine) as session:
        for s in seconds:
            record_event(session, subject, Timestamp(seconds=s))


async def _received(nats_url: str, subject: str, count: int) -> list[int]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
        got = []
        while len(got) < count:
            msg = await sub.next_msg(timeout=10)
            got.append(Timestamp.FromString(msg.data).seconds)
        with pytest.raises(nats.errors.TimeoutError):  # and nothing more
            await sub.next_msg(timeout=0.3)
        return got
    finally:
        await nc.close()


async def test_an_event_committed_in_a_worker_thread_is_published_without_waiting_for_the_poll(
    relay: OutboxRelay, engine: Engine, nats_url: str
) -> None:
    subject = f"platform.test.{uuid.uuid4().hex}"
    await asyncio.to_thread(_commit, engine, subject, [1])
    assert await _received(nats_url, subject, 1) == [1]  # the relay's first pass, or the wakeup
    await asyncio.to_thread(_commit, engine, subject, [2])  # the relay now sleeps for an hour
    assert await _received(nats_url, subject, 2) == [1, 2]


async def test_a_large_commit_is_published_in_batches_once_each_in_order(
    relay: OutboxRelay, engine: Engine, nats_url: str
) -> None:
    subject = f"platform.test.{uuid.uuid4().hex}"
    await asyncio.to_thread(_commit, engine, subject, list(range(1, 251)))  # batches of 100
    assert await _received(nats_url, subject, 250) == list(range(1, 251))
