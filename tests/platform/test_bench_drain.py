"""The bench reads the processes' CPU once the system is idle again: every JetStream consumer caught
up (nothing pending or awaiting its ack) and the CPU settled, within a bounded wait."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from services.runtime.bus import Bus, Delivery
from tools.bench.drain import consumer_backlog, drain
from tools.stack import Stack, StackConfig

SUBJECT = "conversion.bench.drain"
EVENTS = 40
HANDLING_S = 0.03  # per event: the backlog takes >= 1.2 s to drain


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    stack = Stack(StackConfig.ephemeral(tmp_path / "var"))
    stack.start_nats()
    try:
        yield stack.config.nats_url
    finally:
        stack.stop()


async def _publish(url: str, count: int) -> None:
    bus = await Bus.connect(url, name="drain-test")
    try:
        await bus.ensure_streams()
        for n in range(count):
            await bus.publish(SUBJECT, b"x" * 100, event_id=uuid.uuid4().hex, event_type=f"e{n}")
    finally:
        await bus.close()


def _own_cpu() -> dict[str, float]:
    return {"test": time.process_time()}


def _backlog(url: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        bus = await Bus.connect(url, name="drain-test-read")
        try:
            return await consumer_backlog(bus.js)
        finally:
            await bus.close()

    return asyncio.run(read())


class SlowConsumer:
    """A durable consumer on its own event loop in a thread, taking HANDLING_S per event."""

    def __init__(self, url: str) -> None:
        self.url, self.handled = url, 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        bus = await Bus.connect(self.url, name="drain-test-consumer")

        async def handle(_delivery: Delivery) -> None:
            await asyncio.sleep(HANDLING_S)
            self.handled += 1

        await bus.consume(subject=SUBJECT, durable="drain-test", handler=handle)
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        await bus.close()

    def __enter__(self) -> SlowConsumer:
        self._thread.start()
        assert self._ready.wait(15), "the consumer did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)


def test_the_wait_ends_once_every_consumer_has_caught_up(nats_url: str) -> None:
    asyncio.run(_publish(nats_url, 0))  # the streams
    with SlowConsumer(nats_url) as consumer:
        asyncio.run(_publish(nats_url, EVENTS))
        drained = drain(_own_cpu, nats_url, interval_s=0.2, timeout_s=30)
        handled = consumer.handled
    assert drained.idle and drained.backlog_left == 0, drained
    assert drained.backlog_at_start > 0, drained  # the load had left work queued
    assert handled == EVENTS
    # the backlog's handling time at the least (less what was done while the publisher still ran)
    assert drained.seconds >= HANDLING_S * drained.backlog_at_start, drained
    assert _backlog(nats_url)["CONVERSION/drain-test"] == 0


def test_the_wait_is_bounded_and_says_what_was_left(nats_url: str) -> None:
    """A consumer nobody fetches for: the wait ends at its bound, not idle, with the backlog left."""

    async def declare_unread_consumer() -> None:
        bus = await Bus.connect(nats_url, name="drain-test")
        try:
            await bus.ensure_streams()
            config = ConsumerConfig(durable_name="drain-unread", ack_policy=AckPolicy.EXPLICIT)
            await bus.js.add_consumer("CONVERSION", config=config)
        finally:
            await bus.close()

    asyncio.run(declare_unread_consumer())
    asyncio.run(_publish(nats_url, 5))
    started = time.monotonic()
    drained = drain(_own_cpu, nats_url, interval_s=0.2, timeout_s=1.5)
    assert not drained.idle and drained.backlog_left == 5 and drained.backlog_at_start == 5, drained
    assert 1.5 <= drained.seconds <= time.monotonic() - started < 10  # bounded, on a busy machine too
    assert drained.as_result() == {
        "drain_s": drained.seconds,
        "drain_backlog_at_start": 5,
        "drain_backlog_left": 5,
        "drained_idle": False,
        "idle_cpu_share": 0.0,
    }


def test_the_wait_lasts_until_the_cpu_has_settled() -> None:
    """No NATS: only the CPU counts. Busy (one CPU) for the first 1.2 s, then idle."""
    started = time.monotonic()

    def cpu() -> dict[str, float]:
        busy = min(time.monotonic() - started, 1.2)
        return {"busy": busy, "idle": 5.0}

    drained = drain(cpu, interval_s=0.2, timeout_s=10, quiet_checks=2)
    assert drained.idle and drained.backlog_at_start == 0, drained
    assert 1.2 + 0.2 <= drained.seconds <= 3, drained
    # the CPU as it was when the quiet intervals began: the busy 1.2 s (less what an interval may
    # hide under the busy share, 0.1 of one CPU), nothing of the confirming intervals after it
    assert drained.cpu_at_idle == {"busy": pytest.approx(1.2, abs=0.05), "idle": 5.0}
    assert drained.idle_share < 0.25
