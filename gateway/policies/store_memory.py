"""EdgeStore in the gateway's own memory: the embedded default for one gateway process.

Nothing is written to disk per request. Every entry expires by its TTL (a heap of deadlines is
trimmed on each write, so memory stays bounded by the live entries). What a restart forgets and
how the gateway copes is in docs/security.md ("Edge state"): nonces (requests signed before the
start are refused), rate-limit windows (start again), idempotency records (a retry after a restart
runs again; the services' own idempotency keys still hold), ended sessions and revoked keys
(replayed from JetStream at start). Several gateway processes must share Redis instead.
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gateway.policies.store import OperationClaim, OperationRecord, OperationState, WindowCount


@dataclass
class _Operation:
    fingerprint: str
    state: OperationState
    owner: str
    response: bytes
    expires_at: float


def _expires_at(entry: float | tuple[int, float] | _Operation) -> float:
    if isinstance(entry, _Operation):
        return entry.expires_at
    return entry[1] if isinstance(entry, tuple) else entry


class MemoryEdgeStore:
    """Thread-safe (plugin handlers and `asyncio.to_thread` callers share it)."""

    volatile = True

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._once: dict[str, float] = {}
        self._windows: dict[str, tuple[int, float]] = {}
        self._operations: dict[str, _Operation] = {}
        self._deadlines: list[tuple[float, int, str]] = []  # (expires_at, table, key)
        self.started_at = clock()

    def _expire(self, now: float) -> None:
        tables: tuple[dict, ...] = (self._once, self._windows, self._operations)  # type: ignore[type-arg]  # three tables with different value types, cleared alike
        while self._deadlines and self._deadlines[0][0] <= now:
            _, table, key = heapq.heappop(self._deadlines)
            entry = tables[table].get(key)
            if entry is None:
                continue
            if _expires_at(entry) <= now:  # not renewed since this deadline was pushed
                del tables[table][key]

    def _track(self, expires_at: float, table: int, key: str) -> None:
        heapq.heappush(self._deadlines, (expires_at, table, key))

    def claim_once(self, key: str, *, ttl_s: int) -> bool:
        now = self._clock()
        with self._lock:
            self._expire(now)
            if self._once.get(key, 0.0) > now:
                return False
            self._once[key] = now + ttl_s
            self._track(now + ttl_s, 0, key)
            return True

    def is_claimed(self, key: str) -> bool:
        return self._once.get(key, 0.0) > self._clock()

    def hit(self, key: str, *, window_s: int) -> WindowCount:
        now = self._clock()
        window = int(now // window_s)
        ends = (window + 1) * window_s
        name = f"{key}:{window}"
        with self._lock:
            self._expire(now)
            count = self._windows.get(name, (0, ends))[0] + 1
            if count == 1:
                self._track(ends, 1, name)
            self._windows[name] = (count, ends)
        return WindowCount(count=count, reset_s=max(1, int(ends - now + 0.999)))

    def begin_operation(
        self, key: str, *, fingerprint: str, lease_s: int
    ) -> tuple[OperationClaim | None, OperationRecord | None]:
        now = self._clock()
        with self._lock:
            self._expire(now)
            found = self._operations.get(key)
            if found is not None and found.expires_at > now:
                return None, OperationRecord(
                    fingerprint=found.fingerprint, state=found.state, response=found.response
                )
            owner = uuid.uuid4().hex
            self._operations[key] = _Operation(fingerprint, "in_flight", owner, b"", now + lease_s)
            self._track(now + lease_s, 2, key)
        return OperationClaim(key=key, owner=owner), None

    def finish_operation(self, claim: OperationClaim, *, response: bytes, ttl_s: int) -> None:
        now = self._clock()
        with self._lock:
            found = self._operations.get(claim.key)
            if found is not None and found.owner == claim.owner:
                found.state, found.response, found.expires_at = "done", response, now + ttl_s
                self._track(now + ttl_s, 2, claim.key)

    def release_operation(self, claim: OperationClaim) -> None:
        with self._lock:
            found = self._operations.get(claim.key)
            if found is not None and found.owner == claim.owner and found.state == "in_flight":
                del self._operations[claim.key]

    def entries(self) -> int:
        """Live and not yet trimmed entries (nonces, windows, idempotency records)."""
        return len(self._once) + len(self._windows) + len(self._operations)

    def close(self) -> None:
        with self._lock:
            self._once.clear()
            self._windows.clear()
            self._operations.clear()
            self._deadlines.clear()
