"""The journey as a benchmark: steps per second at a fixed concurrency, and click-to-postback latency.

Head office prepares the campaign once; then `journeys` riders each go through link, click,
recognition, binding and activation until the signed postback reaches the partner's receiver, then
the welcome (coupon and message, triggered by the binding) and the redemption.

Click -> signed postback runs from the click request to the moment the partner's receiver holds the
postback, across the customer's steps the postback depends on (recognition with the click id, the
binding whose consent puts the pairwise id in it, the first transaction the core banking system
records). The welcome and the redemption do not lead to the postback, so they come after it: in the
story's order their waits and requests would be counted as the postback's latency.

With the system's telemetry directory, the milestone -> postback part is split into its hops from
the spans of each milestone's trace (`hops_p50_ms`: ms after the core banking request reached the
gateway): the gateway's answer, conversion's consumer (milestone received; attributed, postback
queued and committed), the attempt (consent check, the signed POST), the receiver's clock on arrival
and the attempt booked. `python -m tools.bench.journey` runs only the journeys, round after round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools.journey import Journey
from tools.postback_receiver import PostbackReceiver
from tools.traces import Span, read_spans

STEPS = (
    "partner_creates_link",
    "user_clicks",
    "recognised_in_life",
    "binds_partner_account",
    "first_transaction_in_mbank",  # ends when the receiver holds the signed postback
    "welcomed",
    "redeems_in_partner_scene",
)


def _one(gateway_url: str, receiver: PostbackReceiver, campaign_id: str, benefit_id: str) -> dict[str, float]:
    """One rider's journey: seconds per step, the whole journey, click -> postback at the receiver,
    and the system's own part of it (the core banking milestone sent -> the postback received)."""
    journey = Journey([gateway_url], receiver=receiver, say=lambda _m: None)
    journey.result.campaign_id, journey.result.benefit_id = campaign_id, benefit_id
    try:
        times: dict[str, float] = {}
        started = time.perf_counter()
        code = journey.partner_creates_link()
        times["partner_creates_link"] = time.perf_counter() - started
        clicked = time.perf_counter()
        journey.user_clicks(code)
        times["user_clicks"] = time.perf_counter() - clicked
        for step in STEPS[2:]:
            begun = time.perf_counter()
            getattr(journey, step)()
            times[step] = time.perf_counter() - begun
        seen = journey.result.postback_seen_at
        times["journey"] = time.perf_counter() - started
        times["click_to_postback"] = seen - clicked
        times["milestone_to_postback"] = seen - journey.result.milestone_sent_at
        # the receiver's clock on arrival, as wall-clock ns (the spans' clock)
        times["received_wall_ns"] = (seen + time.time() - time.perf_counter()) * 1e9
        times["milestone_id"] = f"cbs-first-tx-{journey.run}"  # type: ignore[assignment]  # read by hops()
        return times
    finally:
        journey.close()


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def _end_ns(span: Span) -> int:
    return span.start_ns + int(span.duration_ms * 1e6)


MILESTONE_CONSUMED = "core.milestone.recorded process"
HOPS = (
    "gateway_answered",
    "milestone_received",
    "milestone_committed",
    "attempt_started",
    "consent_answered",
    "receiver_got_it",
    "attempt_booked",
)


def _hops_of(spans: list[Span], received_wall_ns: float) -> dict[str, float] | None:
    gateway = [s for s in spans if s.service == "gateway" and s.kind == "SERVER"]
    consumed = [
        s for s in spans if s.service == "conversion" and s.raw["name"] == "core.milestone.recorded process"
    ]
    attempt = [s for s in spans if s.service == "conversion" and s.raw["name"] == "POST postback"]
    if not (gateway and consumed and attempt):
        return None
    t0 = min(s.start_ns for s in gateway)
    first = min(attempt, key=lambda s: s.start_ns)
    consent = [s for s in spans if s.service == "conversion" and "GetPairwiseId" in s.raw["name"]]
    at = {
        "gateway_answered": max(_end_ns(s) for s in gateway),
        "milestone_received": consumed[0].start_ns,
        "milestone_committed": _end_ns(consumed[0]),
        "attempt_started": first.start_ns,
        "consent_answered": _end_ns(consent[0]) if consent else None,
        "receiver_got_it": received_wall_ns,
        "attempt_booked": _end_ns(first),
    }
    return {k: (v - t0) / 1e6 for k, v in at.items() if v is not None}


def hops(telemetry_dir: Path, results: list[dict[str, Any]], *, wait_s: float = 15.0) -> dict[str, float]:
    """p50 of each hop of milestone -> postback (ms after the milestone request reached the gateway),
    from the spans of each journey's milestone trace (waits for the processes' batched export)."""
    deadline = time.monotonic() + wait_s
    while True:
        traces = read_spans(telemetry_dir)
        trace_of = {
            s.raw.get("attributes", {}).get("lattice.event_id"): tid
            for tid, spans in traces.items()
            for s in spans
            if s.raw["name"] == MILESTONE_CONSUMED and s.service == "conversion"
        }
        found = []
        for r in results:
            tid = trace_of.get(r["milestone_id"])
            got = _hops_of(traces[tid], r["received_wall_ns"]) if tid else None
            if got is not None:
                found.append(got)
        if len(found) == len(results) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    out = {
        h: round(statistics.median([f[h] for f in found if h in f]), 1)
        for h in HOPS
        if any(h in f for f in found)
    }
    return {"traced": len(found), **out}


def measure_journeys(
    gateway_url: str,
    receiver: PostbackReceiver,
    *,
    journeys: int = 12,
    concurrency: int = 4,
    telemetry_dir: Path | None = None,
) -> dict[str, Any]:
    """Run `journeys` journeys, `concurrency` at a time; report steps/s, click-to-postback latency
    and the p50 of each step (where the click -> postback time goes); with the telemetry directory,
    the p50 of each hop from the milestone to the postback."""
    setup = Journey([gateway_url], receiver=receiver, say=lambda _m: None)
    try:
        setup.prepare()
    finally:
        setup.close()
    campaign, benefit = setup.result.campaign_id, setup.result.benefit_id
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda _i: _one(gateway_url, receiver, campaign, benefit), range(journeys)))
    wall = time.perf_counter() - started
    click_to_postback = sorted(r["click_to_postback"] for r in results)
    traced = {"hops_p50_ms": hops(telemetry_dir, results)} if telemetry_dir is not None else {}
    return {
        "name": "journey",
        "journeys": journeys,
        "concurrency": concurrency,
        "steps": len(STEPS) * journeys,
        "steps_per_s": round(len(STEPS) * journeys / wall, 2),
        "journey_p50_ms": _ms([r["journey"] for r in results]),
        "click_to_postback_p50_ms": _ms(click_to_postback),
        "click_to_postback_max_ms": round(click_to_postback[-1] * 1000, 1),
        "milestone_to_postback_p50_ms": _ms([r["milestone_to_postback"] for r in results]),
        "milestone_to_postback_max_ms": round(max(r["milestone_to_postback"] for r in results) * 1000, 1),
        "step_p50_ms": {step: _ms([r[step] for r in results]) for step in STEPS},
        **traced,
    }


def main() -> None:
    """Only the journeys: start the bench's system, warm up, then `--rounds` rounds; one JSON line each."""
    from tools.bench.system import bench_system  # the system's imports only when run as a program

    parser = argparse.ArgumentParser(prog="python -m tools.bench.journey", description=main.__doc__)
    parser.add_argument("--journeys", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_system(Path(tmp)) as system:
        telemetry = system.stack.config.var_dir / "telemetry"
        measure_journeys(system.ctx.gateway_url, system.receiver, journeys=args.concurrency)  # warm-up
        for _ in range(args.rounds):
            result = measure_journeys(
                system.ctx.gateway_url,
                system.receiver,
                journeys=args.journeys,
                concurrency=args.concurrency,
                telemetry_dir=telemetry,
            )
            print(json.dumps(result), flush=True)
            print(f"journey: {result}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
