"""A durable consumer handles a message as soon as it is published, not when its pull's wait ends:
the postback and inbox paths cross several consumers, each would add up to that wait."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from services.runtime import bus as bus_module
from services.runtime.bus import Bus, Delivery


async def test_an_idle_consumer_handles_each_message_long_before_its_pull_would_expire(
    nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_module, "FETCH_WAIT_S", 6.0)  # a pull waiting out its batch would show
    subject = f"platform.prompt.{uuid.uuid4().hex}"
    handled: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        handled.put_nowait((delivery.data.decode(), time.perf_counter()))

    bus = await Bus.connect(nats_url, name="prompt")
    try:
        await bus.consume(durable=f"prompt-{uuid.uuid4().hex[:8]}", subject=subject, handler=handler)
        for n in range(3):
            await asyncio.sleep(0.3)  # the consumer is idle, inside a pull that waits for up to 6 s
            sent = time.perf_counter()
            await bus.publish(subject, f"m{n}".encode(), event_id=uuid.uuid4().hex, event_type="probe")
            data, at = await asyncio.wait_for(handled.get(), 10)
            assert data == f"m{n}"
            assert at - sent < 2.0, f"handled {at - sent:.2f} s after publication"
        # a burst still arrives in batches, in order, each once
        ids = [f"b{n}" for n in range(40)]
        for data_id in ids:
            await bus.publish(subject, data_id.encode(), event_id=uuid.uuid4().hex, event_type="probe")
        burst = [(await asyncio.wait_for(handled.get(), 10))[0] for _ in ids]
        assert burst == ids
    finally:
        await bus.close()
