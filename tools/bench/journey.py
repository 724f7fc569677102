"""The journey as a benchmark: steps per second at a fixed concurrency, and click-to-postback latency.

Head office prepares the campaign once; then `journeys` riders each go through link, click,
recognition, binding and activation until the signed postback reaches the partner's receiver, then
the welcome (coupon and message, triggered by the binding) and the redemption.

Click -> signed postback runs from the click request to the moment the partner's receiver holds the
postback, across the customer's steps the postback depends on (recognition with the click id, the
binding whose consent puts the pairwise id in it, the first transaction the core banking system
records). The welcome and the redemption do not lead to the postback, so they come after it: in the
story's order their waits and requests would be counted as the postback's latency.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tools.journey import Journey
from tools.postback_receiver import PostbackReceiver

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
        return times
    finally:
        journey.close()


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def measure_journeys(
    gateway_url: str, receiver: PostbackReceiver, *, journeys: int = 12, concurrency: int = 4
) -> dict[str, Any]:
    """Run `journeys` journeys, `concurrency` at a time; report steps/s, click-to-postback latency
    and the p50 of each step (where the click -> postback time goes)."""
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
    }
