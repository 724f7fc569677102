"""A batched consumer (`idempotent_batch`): a burst is applied in a few commits, not one per message,
and still each message once, in order; a failing message is retried (and dead-lettered) alone while
the rest of its batch is acked; a duplicate event id is applied once; what is acked is committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.runtime.bus import BatchHandler, Bus, Delivery
from services.runtime.db import make_engine, migrate, read_session
from services.runtime.exactly_once import idempotent, idempotent_batch
from services.runtime.outbox import OutboxEvent, ProcessedMessage


class Refused(Exception):
    pass


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("bus-batch") / "batch.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine, "conversion")  # the runtime's outbox and processed_message tables are in all
    yield engine
    engine.dispose()


def _apply(session: Session, delivery: Delivery) -> None:
    if delivery.data.startswith(b"refuse"):
        raise Refused(delivery.data.decode())
    # the effect: a row keyed by the payload (a second insert of the same key would fail the unit)
    session.add(OutboxEvent(id=delivery.data.decode(), subject="platform.test", event_type="t", payload=b"x"))


def _stored(engine: Engine, prefix: str) -> list[str]:
    with read_session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.id.startswith(prefix)))
        return sorted(row.id for row in rows)


def _processed(engine: Engine, consumer: str) -> int:
    with read_session(engine) as session:
        return len(list(session.exec(select(ProcessedMessage).where(ProcessedMessage.consumer == consumer))))


async def _wait_for(check, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@dataclass
class _Burst:
    """A burst of probe messages published on a subject of its own, and the consumer applying it."""

    subject: str
    durable: str
    ids: list[str]
    publisher: Bus
    consumer: Bus | None = None

    async def consume(
        self, nats_url: str, engine: Engine, batch_handler: BatchHandler, **options: int
    ) -> None:
        self.consumer = await Bus.connect(nats_url, name="batch-consumer")
        await self.consumer.consume(
            durable=self.durable,
            subject=self.subject,
            handler=idempotent(engine, self.durable, _apply),
            batch_handler=batch_handler,
            **options,
        )


@asynccontextmanager
async def _burst(
    nats_url: str, count: int, after: Callable[[Bus, str, int, str], Awaitable[None]] | None = None
) -> AsyncIterator[_Burst]:
    """Publish `count` messages (`after` may publish more after each) before any consumer starts: its
    first pulls get full batches. Closes the consumer (once started) and the publisher."""
    run = uuid.uuid4().hex[:8]
    burst = _Burst(
        subject=f"platform.batch.{run}",
        durable=f"batch-{run}",
        ids=[f"{run}-{n:03d}" for n in range(count)],
        publisher=await Bus.connect(nats_url, name="batch-publisher"),
    )
    try:
        for n, data_id in enumerate(burst.ids):
            await burst.publisher.publish(
                burst.subject, data_id.encode(), event_id=f"e-{data_id}", event_type="probe"
            )
            if after is not None:
                await after(burst.publisher, burst.subject, n, data_id)
        yield burst
    finally:
        if burst.consumer is not None:
            await burst.consumer.close()
        await burst.publisher.close()


async def test_a_burst_is_applied_in_few_commits_each_message_once_and_a_failure_alone(
    nats_url: str, engine: Engine
) -> None:
    commits: list[int] = []

    def count_commit(_conn) -> None:
        commits.append(1)

    async def a_duplicate_and_a_refusal(publisher: Bus, subject: str, n: int, data_id: str) -> None:
        if n == 10:  # the same event again (a publisher's retry outside the duplicate window)
            await publisher.js.publish(
                subject,
                data_id.encode(),
                headers={"Lattice-Event-Id": f"e-{data_id}", "Nats-Msg-Id": "other"},
            )
        if n == 50:
            run = subject.rsplit(".", 1)[1]
            await publisher.publish(
                subject, f"refuse-{run}".encode(), event_id=f"r-{run}", event_type="probe"
            )

    event.listen(engine, "commit", count_commit)
    batches: list[int] = []
    async with _burst(nats_url, 120, a_duplicate_and_a_refusal) as burst:
        run, subject, durable, ids = burst.subject.rsplit(".", 1)[1], burst.subject, burst.durable, burst.ids
        batch_handler = idempotent_batch(engine, durable, _apply)

        async def counting(deliveries):
            batches.append(len(deliveries))
            return await batch_handler(deliveries)

        dead = await burst.publisher.nc.subscribe(f"dlq.{durable}.>")
        try:
            await burst.consume(nats_url, engine, counting, fetch_batch=64, max_deliver=2)
            consumer = burst.consumer
            assert consumer is not None
            await _wait_for(lambda: len(_stored(engine, run)) == len(ids))
            assert _stored(engine, run) == ids  # each once, the duplicate event applied once
            assert max(batches) > 1, batches
            # the refused message is retried alone and then dead-lettered; nothing of it is stored
            letter = await dead.next_msg(timeout=20)
            assert letter.data == f"refuse-{run}".encode()
            assert (letter.headers or {}).get("Lattice-Error") == "Refused"
            await _wait_for(lambda: _processed(engine, durable) == len(ids))
            assert len(commits) < len(ids) / 4, f"{len(commits)} commits for {len(ids)} messages"
            # everything acked or terminated: nothing pending, nothing waiting for its ack
            stream = await consumer.js.find_stream_name_by_subject(subject)
            for _ in range(100):
                info = await consumer.js.consumer_info(stream, durable)
                if not info.num_pending and not info.num_ack_pending:
                    break
                await asyncio.sleep(0.1)
            assert (info.num_pending, info.num_ack_pending) == (0, 0)
        finally:
            event.remove(engine, "commit", count_commit)
            await dead.unsubscribe()


async def test_a_batch_that_cannot_commit_is_handled_message_by_message(
    nats_url: str, engine: Engine
) -> None:
    failed_batches: list[int] = []

    async def broken(deliveries):
        failed_batches.append(len(deliveries))
        raise RuntimeError("the database went away")

    async with _burst(nats_url, 20) as burst:
        run, ids = burst.subject.rsplit(".", 1)[1], burst.ids
        await burst.consume(nats_url, engine, broken)
        await _wait_for(lambda: len(_stored(engine, run)) == len(ids))
        assert _stored(engine, run) == ids
        assert failed_batches and max(failed_batches) > 1
