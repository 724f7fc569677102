"""Measurements that are not HTTP load: the in-process baselines some scenarios are compared with,
and reach's end-to-end latency from a behaviour event to the inbox message.

- a bare SQLModel single-insert transaction on SQLite (the floor under any write a service does);
- JetStream publishes awaiting their acks (the floor under any event a request emits);
- event -> inbox: one event every 250 ms through the gateway, timed until the message is readable.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from services.runtime.bus import Bus
from services.runtime.db import make_engine, migrate
from services.runtime.outbox import OutboxEvent
from tools.bench.scenario import BenchContext
from tools.bench.scenarios.reach import active_strategies, customer_tokens


def sqlmodel_insert_baseline(work: Path, *, count: int = 2000) -> dict[str, Any]:
    """Single-row insert transactions per second on a migrated SQLite file (WAL, synchronous=FULL)."""
    engine = make_engine(f"sqlite:///{work / 'baseline-insert.db'}")
    migrate(engine, "conversion")
    started = time.perf_counter()
    for i in range(count):
        with Session(engine) as session, session.begin():
            session.add(OutboxEvent(id=f"b-{i}", subject="bench.x", event_type="bench", payload=b"x"))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"name": "baseline.sqlmodel_insert", "transactions": count, "tx_per_s": round(count / elapsed, 1)}


async def _publishes(nats_url: str, count: int, in_flight: int) -> float:
    bus = await Bus.connect(nats_url, name="bench-baseline")
    semaphore = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with semaphore:
            await bus.publish(
                "reach.bench.baseline", b"x" * 64, event_id=f"bb-{uuid.uuid4().hex}-{i}", event_type="b"
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = time.perf_counter() - started
    await bus.close()
    return elapsed


def jetstream_publish_baseline(nats_url: str, *, count: int = 3000, in_flight: int = 64) -> dict[str, Any]:
    """Acknowledged JetStream publishes per second, `in_flight` at a time (file store, sync always)."""
    elapsed = asyncio.run(_publishes(nats_url, count, in_flight))
    return {"name": "baseline.jetstream_publish", "messages": count, "msgs_per_s": round(count / elapsed, 1)}


def event_to_inbox_latency(
    ctx: BenchContext, *, events: int = 20, interval_s: float = 0.25
) -> dict[str, Any]:
    """p50/max from POSTing a behaviour event to the inbox message being readable, at a fixed rate."""
    event_type = asyncio.run(active_strategies(ctx, 1))
    tokens = asyncio.run(customer_tokens(ctx, f"latency-{uuid.uuid4().hex[:6]}"))[:events]
    latencies = []
    with httpx.Client(base_url=ctx.gateway_url, timeout=10) as gw:
        for i, token in enumerate(tokens):
            headers = {"authorization": f"Bearer {token}"}
            body = {"events": [{"event_id": f"lat-{uuid.uuid4().hex}", "type": event_type}]}
            started = time.perf_counter()
            assert gw.post("/v1/apps/mbank/events", json=body, headers=headers).status_code == 202
            while True:
                inbox = gw.get("/v1/apps/mbank/inbox", headers=headers).json()
                if inbox.get("messages") or inbox.get("items"):
                    break
                if time.perf_counter() - started > 10:
                    raise TimeoutError(f"event {i} never reached the inbox")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
            time.sleep(max(0.0, interval_s - latencies[-1]))
    return {
        "name": "reach.event_to_inbox",
        "events": len(latencies),
        "interval_ms": interval_s * 1000,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }
