"""One structured line per request in the gateway's log, for `grep <trace_id> var/logs/*.log`.

Logger `lattice.access`, message `access`, fields: method, route (the template, never the concrete
path: paths hold ids), status, duration_ms, caller_kind and caller_id, request_id; `trace_id` comes
from the logging setup (services/runtime/telemetry.py). The caller is what the edge admitted:
`partner` + partner id, `operator` + operator id, `customer` + the app id (never the customer's id),
`core` + system id, `provider` + channel, `public` with no id (never the client's address).
"""

from __future__ import annotations

import logging
import time

from starlette.types import Scope

logger = logging.getLogger("lattice.access")

CALLER_KEY = "caller"


def caller_of(consumer: str) -> tuple[str, str]:
    """(caller kind, caller id) of a rate-limit consumer such as `partner:ride`, with no personal data."""
    kind, _, rest = consumer.partition(":")
    if kind == "customer":
        return kind, rest.partition(":")[0]  # customer:<app>:<customer id> -> the app
    if kind == "ip":
        return "public", ""
    return kind, rest


def route_template(scope: Scope) -> str:
    """The matched route's template (`/v1/apps/{app_id}/wallet`), or `-` when no route matched."""
    telemetry = scope.get("fastapi.telemetry")
    route = getattr(telemetry, "route", None) or getattr(scope.get("route"), "path", None)
    return route or "-"


def record(scope: Scope, *, status: int, started: float) -> None:
    """Write the request's access line (the current span gives its trace_id)."""
    state = scope.get("state") or {}
    kind, caller_id = state.get(CALLER_KEY) or ("anonymous", "")
    logger.info(
        "access",
        extra={
            "method": scope.get("method", ""),
            "route": route_template(scope),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "caller_kind": kind,
            "caller_id": caller_id,
            "request_id": state.get("request_id", ""),
        },
    )
