"""Platform scenarios: the gateway alone, and the gateway -> every service over gRPC and NATS."""

from __future__ import annotations

from typing import Any

from tools.bench.scenario import Request, RequestFactory, Scenario


def healthz(_params: dict[str, Any]) -> RequestFactory:
    request = Request("GET", "/healthz")
    return lambda _i: request


def readyz(_params: dict[str, Any]) -> RequestFactory:
    request = Request("GET", "/readyz")
    return lambda _i: request


SCENARIOS = [
    Scenario(
        "platform.healthz",
        "gateway liveness: FastAPI, edge middleware, telemetry; no downstream call",
        healthz,
    ),
    Scenario("platform.readyz", "gateway readiness: five gRPC health calls and the NATS connection", readyz),
]
