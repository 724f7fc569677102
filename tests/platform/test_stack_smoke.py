"""The whole system starts as real processes and the gateway reports every service ready."""

from __future__ import annotations

import httpx

from services.runtime.config import SERVICES
from services.runtime.stack import Stack


def test_readyz_reports_every_service(gateway: httpx.Client) -> None:
    resp = gateway.get("/readyz")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["nats"] is True
    assert set(body["services"]) == set(SERVICES)
    assert all(status == "SERVING" for status in body["services"].values())


def test_readyz_turns_not_ready_when_a_service_stops(private_stack: Stack) -> None:
    private_stack.start()
    private_stack.processes["content"].stop()
    resp = httpx.get(f"{private_stack.config.gateway_url}/readyz", timeout=5)
    assert resp.status_code == 503
    assert resp.json()["services"]["content"] != "SERVING"
