"""The journey as a benchmark: steps per second at a fixed concurrency, and click-to-postback latency.

Head office prepares the campaign once; then `journeys` riders each go through link, click,
recognition, binding (welcome coupon and message), redemption and activation until the signed
postback reaches the partner's receiver.
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
    "welcomed",
    "redeems_in_partner_scene",
    "first_transaction_in_mbank",
)


def _one(
    gateway_url: str, receiver: PostbackReceiver, campaign_id: str, benefit_id: str
) -> tuple[float, float]:
    journey = Journey([gateway_url], receiver=receiver, say=lambda _m: None)
    journey.result.campaign_id, journey.result.benefit_id = campaign_id, benefit_id
    try:
        started = time.perf_counter()
        code = journey.partner_creates_link()
        clicked = time.perf_counter()
        journey.user_clicks(code)
        for step in STEPS[2:]:
            getattr(journey, step)()
        done = time.perf_counter()
        return done - started, done - clicked
    finally:
        journey.close()


def measure_journeys(
    gateway_url: str, receiver: PostbackReceiver, *, journeys: int = 12, concurrency: int = 4
) -> dict[str, Any]:
    """Run `journeys` journeys, `concurrency` at a time; report steps/s and click-to-postback latency."""
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
    click_to_postback = sorted(r[1] for r in results)
    return {
        "name": "journey",
        "journeys": journeys,
        "concurrency": concurrency,
        "steps": len(STEPS) * journeys,
        "steps_per_s": round(len(STEPS) * journeys / wall, 2),
        "journey_p50_ms": round(statistics.median(r[0] for r in results) * 1000, 1),
        "click_to_postback_p50_ms": round(statistics.median(click_to_postback) * 1000, 1),
        "click_to_postback_max_ms": round(click_to_postback[-1] * 1000, 1),
    }
