"""The load generator, run as a separate process: `python -m tools.bench.load SPEC.json`.

Fixed concurrency, a warm-up (not measured), then a measured phase bounded both in time and in
request count. Prints `WARM` when the measured phase starts and the result as JSON on the last line.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tools.bench.scenario import RequestFactory, load_scenario

MAX_ERROR_SAMPLES = 5


@dataclass
class Phase:
    """Requests sent during one phase and what came back."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def failed(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(what)


async def run_phase(
    client: httpx.AsyncClient,
    factory: RequestFactory,
    counter: itertools.count,
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    rate_rps: float = 0.0,
) -> tuple[Phase, float]:
    """Send requests from `concurrency` workers until `seconds` pass or `max_requests` are sent.

    With `rate_rps` the load is open-loop: request i is due at start + i / rate, and its latency
    counts from when it was due (a slow server cannot slow the schedule down and hide its delay).
    """
    phase = Phase()
    started = time.perf_counter()
    deadline = started + seconds
    sent = itertools.count()

    async def worker() -> None:
        while True:
            i = next(sent)
            if i >= max_requests:
                return
            if rate_rps > 0:
                t0 = started + i / rate_rps
                if t0 >= deadline:
                    return
                await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
            else:
                if time.perf_counter() >= deadline:
                    return
                t0 = time.perf_counter()
            request = factory(next(counter))
            try:
                reply = await client.request(
                    request.method, request.path, headers=request.headers, content=request.body
                )
                if reply.status_code not in request.expect:
                    phase.failed(f"{request.method} {request.path} -> {reply.status_code} {reply.text[:200]}")
            except httpx.HTTPError as exc:
                phase.failed(f"{request.method} {request.path} -> {type(exc).__name__}: {exc}")
            phase.latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return phase, time.perf_counter() - started


def summarise(phase: Phase, elapsed: float) -> dict[str, Any]:
    """Throughput and latency percentiles (ms) of a measured phase."""
    ordered = sorted(phase.latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3) if ordered else 0.0

    return {
        "requests": len(ordered),
        "errors": phase.errors,
        "error_samples": phase.error_samples,
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(len(ordered) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
    }


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    scenario = load_scenario(spec["module"], spec["scenario"])
    factory = scenario.requests(spec["params"])
    limits = httpx.Limits(max_connections=spec["concurrency"], max_keepalive_connections=spec["concurrency"])
    counter = itertools.count()
    async with httpx.AsyncClient(
        base_url=spec["base_url"], limits=limits, timeout=spec["timeout_s"]
    ) as client:

        async def phase_of(seconds: float) -> tuple[Phase, float]:
            return await run_phase(
                client,
                factory,
                counter,
                concurrency=spec["concurrency"],
                seconds=seconds,
                max_requests=spec["max_requests"],
                rate_rps=spec.get("rate_rps", 0.0),
            )

        await phase_of(spec["warmup_s"])
        print("WARM", flush=True)
        phase, elapsed = await phase_of(spec["duration_s"])
    return summarise(phase, elapsed)


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    label = "fixed" if spec.get("rate_rps", 0.0) > 0 else "python"
    print(json.dumps({**result, "load": label}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
