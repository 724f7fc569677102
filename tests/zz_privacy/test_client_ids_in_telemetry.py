"""A client's identifiers are data, not log text: a behaviour event naming a click conversion has not
recorded yet is retried, and neither the retry warnings nor the spans quote the client's click id."""

from __future__ import annotations

import random
import string
import time
import uuid

import httpx

from tests.support.actors import sign_in
from tools.stack import Stack

RETRIES_S = 8.0  # five deliveries with backoff 0.4 + 0.8 + 1.6 + 3.2 s
SPAN_FLUSH_S = 5.5


def test_a_pending_click_is_retried_without_its_id_in_logs_or_spans(
    stack: Stack, gateway: httpx.Client
) -> None:
    customer = sign_in(gateway, "mbank", f"m-click-{uuid.uuid4().hex[:8]}")
    click_id = f"clk-{uuid.uuid4().hex[:20]}"
    kind = "pending_click_" + "".join(random.choices(string.ascii_lowercase, k=10))
    event = {"event_id": f"evt-{uuid.uuid4().hex}", "type": kind, "click_id": click_id}
    sent = gateway.post("/v1/apps/mbank/events", json={"events": [event]}, headers=customer.headers)
    assert sent.status_code == 202, sent.text
    logs = stack.config.var_dir / "logs"
    deadline = time.monotonic() + RETRIES_S + SPAN_FLUSH_S
    retried = False
    while time.monotonic() < deadline:
        retried = retried or any(
            f"app.event.{kind} (delivery" in p.read_text(encoding="utf-8", errors="replace")
            for p in logs.glob("conversion*.log")
        )
        time.sleep(0.5)
    assert retried, "conversion never retried the event (the test would prove nothing)"
    files = [*logs.glob("*.log"), *(stack.config.var_dir / "telemetry").glob("*.spans.jsonl")]
    quoted = [p.name for p in files if click_id in p.read_text(encoding="utf-8", errors="replace")]
    assert not quoted, f"the client's click id is in {quoted}"
