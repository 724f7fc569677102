"""Waiting until the system is idle again: every JetStream consumer caught up and the processes' CPU
settled.

A request's cost does not end with its answer: a redirect's click event is stored by conversion's
consumer after the 302, a redemption's outbox event is relayed and consumed after its 201. Reading
the processes' CPU when the load stops leaves out what the consumers still had queued, so the bench
reads it once the system is idle: no durable consumer of any stream has a message pending or
awaiting its ack, and the processes together use under `busy_share` of one CPU (a quarter by
default: a consumer working through a backlog uses most of one, the idle system's background of
exporters, polls and relays 5-10% of one on the development machine), both for `quiet_checks`
intervals in a row (an outbox relay polls every 0.5 s: an event still in a service's
outbox shows up in a stream within two intervals). The wait is bounded; the result says how long it
took, what the consumers had left when it began and whether it ended idle or at its bound, and holds
the processes' CPU as it was when the quiet intervals began: their idle background (exporters,
consumers' polls) during the confirming intervals is not charged to the load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import nats
from nats.js import JetStreamContext


@dataclass(frozen=True)
class Drained:
    seconds: float  # from the end of the load to idle (or to the bound)
    backlog_at_start: int  # messages the consumers had pending or unacknowledged when the wait began
    backlog_left: int  # the same when the wait ended: 0 unless it hit its bound
    idle: bool  # False: the wait ended at its bound, not idle
    # each process's CPU seconds when the system fell quiet (at the bound: when the wait ended)
    cpu_at_idle: dict[str, float] = field(default_factory=dict)
    # the processes' CPU over the quiet intervals, as a share of one CPU: their idle background
    # (exporters, consumers' polls, relays), which the seconds of the wait before them also hold
    idle_share: float = 0.0

    def as_result(self) -> dict[str, float | int | bool]:
        return {
            "drain_s": self.seconds,
            "drain_backlog_at_start": self.backlog_at_start,
            "drain_backlog_left": self.backlog_left,
            "drained_idle": self.idle,
            "idle_cpu_share": self.idle_share,
        }


async def consumer_backlog(js: JetStreamContext) -> dict[str, int]:
    """Messages each durable consumer has not processed yet (pending + awaiting ack), by stream/consumer."""
    backlog = {}
    # a stream always has its name and a consumer both counts; nats-py types them optional
    for name in (stream.config.name or "" for stream in await js.streams_info()):
        for consumer in await js.consumers_info(name):
            pending, unacked = consumer.num_pending or 0, consumer.num_ack_pending or 0
            backlog[f"{name}/{consumer.name}"] = pending + unacked
    return backlog


async def _drain(
    cpu: Callable[[], dict[str, float]],
    nats_url: str,
    *,
    busy_share: float,
    interval_s: float,
    timeout_s: float,
    quiet_checks: int,
) -> Drained:
    started = time.monotonic()
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=0) if nats_url else None
    try:
        js = nc.jetstream(timeout=5) if nc else None

        async def backlog() -> int:
            return sum((await consumer_backlog(js)).values()) if js else 0

        at_start = left = await backlog()
        last = quiet_since = cpu()
        quiet = 0
        while time.monotonic() - started < timeout_s:
            await asyncio.sleep(interval_s)
            now, left = cpu(), await backlog()
            if left == 0 and sum(now.values()) - sum(last.values()) < busy_share * interval_s:
                quiet, quiet_since = quiet + 1, quiet_since if quiet else last
            else:
                quiet = 0
            last = now
            if quiet >= quiet_checks:
                share = (sum(now.values()) - sum(quiet_since.values())) / (quiet * interval_s)
                seconds = round(time.monotonic() - started, 2)
                return Drained(seconds, at_start, 0, True, quiet_since, round(share, 4))
        return Drained(round(time.monotonic() - started, 2), at_start, left, False, last)
    finally:
        if nc:
            await nc.close()


def drain(
    cpu: Callable[[], dict[str, float]],
    nats_url: str = "",
    *,
    busy_share: float = 0.25,
    interval_s: float = 0.5,
    timeout_s: float = 60.0,
    quiet_checks: int = 2,
) -> Drained:
    """Wait until every consumer of `nats_url`'s streams has caught up (no NATS: skipped) and `cpu()`,
    each process's CPU seconds so far, grows by under `busy_share` of one CPU per interval together,
    for `quiet_checks` intervals in a row; at most `timeout_s`."""
    return asyncio.run(
        _drain(
            cpu,
            nats_url,
            busy_share=busy_share,
            interval_s=interval_s,
            timeout_s=timeout_s,
            quiet_checks=quiet_checks,
        )
    )
