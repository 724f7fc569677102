"""`make demo`: play the journey against a running `make run` and print what every party saw.

The partner's postback receiver listens on 127.0.0.1:18099, which `make run` allow-lists for
conversion's SSRF guard (CONVERSION_POSTBACK_ALLOWLIST) in development.
"""

from __future__ import annotations

import os
import sys

import httpx

from tools.journey import Journey
from tools.postback_receiver import PostbackReceiver

DEMO_RECEIVER_PORT = 18099


def main() -> int:
    gateway = os.environ.get("LATTICE_GATEWAY_URL", "http://127.0.0.1:8080")
    try:
        httpx.get(f"{gateway}/readyz", timeout=3).raise_for_status()
    except httpx.HTTPError:
        print(f"Lattice is not ready at {gateway}: start it with `make run` first.", file=sys.stderr)
        return 1
    receiver = PostbackReceiver(port=DEMO_RECEIVER_PORT).start()
    journey = Journey([gateway], receiver=receiver)
    try:
        print(f"Lattice journey (run {journey.run}) through {gateway}\n")
        result = journey.play()
    finally:
        journey.close()
        receiver.stop()
    traces = sorted({s.trace_id for s in result.steps if s.trace_id})
    print(f"\nDone: {len(result.steps)} steps, {len(traces)} traces.")
    print("Inspect a trace: .venv/bin/python -m tools.traces show <trace id>   (or in Jaeger when deployed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
