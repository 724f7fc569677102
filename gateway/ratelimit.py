"""Rate limits per consumer and route group, counted in the shared edge store (fixed windows)."""

from __future__ import annotations

import asyncio
import hashlib

from starlette.requests import Request

from gateway.access_log import CALLER_KEY, caller_of
from gateway.policies.store import EdgeStore, WindowCount, runs_inline
from gateway.problems import Problem

STATE_KEY = "rate_limit"


class RateLimiter:
    """Counts a request against its consumer's quota for a route group; 429 when it is spent."""

    def __init__(self, *, store: EdgeStore, limits: dict[str, int], window_s: int) -> None:
        self._store = store
        self._limits = limits
        self._window_s = window_s
        self._inline = runs_inline(store)

    async def admit(self, scope_state: dict, *, group: str, consumer: str) -> None:
        scope_state[CALLER_KEY] = caller_of(consumer)  # for the access log line
        limit = self._limits.get(group)
        if not limit:
            return
        digest = hashlib.sha256(consumer.encode()).hexdigest()[:32]
        key = f"{group}:{digest}"
        counted: WindowCount = (
            self._store.hit(key, window_s=self._window_s)
            if self._inline
            else await asyncio.to_thread(self._store.hit, key, window_s=self._window_s)
        )
        headers = rate_limit_headers(limit=limit, counted=counted, window_s=self._window_s)
        scope_state[STATE_KEY] = headers
        if counted.count > limit:
            raise Problem(
                429,
                "rate_limited",
                f"at most {limit} requests per {self._window_s}s for this consumer on {group} routes",
                headers={**headers, "Retry-After": str(counted.reset_s)},
            )

    async def admit_request(self, request: Request, *, group: str, consumer: str) -> None:
        await self.admit(request.scope.setdefault("state", {}), group=group, consumer=consumer)


def rate_limit_headers(*, limit: int, counted: WindowCount, window_s: int) -> dict[str, str]:
    """IETF RateLimit-* headers (draft-ietf-httpapi-ratelimit-headers)."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - counted.count)),
        "RateLimit-Reset": str(counted.reset_s),
        "RateLimit-Policy": f"{limit};w={window_s}",
    }
