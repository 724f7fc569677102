"""The shared edge store: one-time nonces, rate-limit windows and idempotency records.

Redis when REDIS_URL is set (gateway replicas, several hosts); otherwise, for one gateway process
(the embedded default), memory for the per-request state beside a SQLite file for identity's marks;
or, with EDGE_STORE=sqlite, a SQLite file that every gateway replica and plugin server on one
machine shares (docs/performance.md, "Edge state"). Methods are synchronous: plugin handlers run
in threads and the gateway calls them through `asyncio.to_thread` (or inline, in memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

OperationState = Literal["in_flight", "done"]


@dataclass(frozen=True)
class WindowCount:
    """Requests counted in the current fixed window and seconds until it resets."""

    count: int
    reset_s: int


@dataclass(frozen=True)
class OperationRecord:
    """What an Idempotency-Key already stands for: the request's fingerprint and, once done, its response."""

    fingerprint: str
    state: OperationState
    response: bytes = b""


@dataclass(frozen=True)
class OperationClaim:
    """Who owns a new operation: `owner` must be presented to finish or release it."""

    key: str
    owner: str


class EdgeStore(Protocol):
    def claim_once(self, key: str, *, ttl_s: int) -> bool:
        """True the first time `key` is claimed within `ttl_s`."""
        ...

    def is_claimed(self, key: str) -> bool:
        """True while a claim on `key` has not expired."""
        ...

    def hit(self, key: str, *, window_s: int) -> WindowCount:
        """Count one request in the current window of `key`."""
        ...

    def begin_operation(
        self, key: str, *, fingerprint: str, lease_s: int
    ) -> tuple[OperationClaim | None, OperationRecord | None]:
        """Claim `key` for a new operation, or return the record already there."""
        ...

    def finish_operation(self, claim: OperationClaim, *, response: bytes, ttl_s: int) -> None: ...

    def release_operation(self, claim: OperationClaim) -> None: ...

    def close(self) -> None: ...


def runs_inline(store: EdgeStore) -> bool:
    """True when the store keeps per-request state in this process's memory: calls cost microseconds and
    run on the event loop; a file or Redis call goes to a worker thread (`asyncio.to_thread`)."""
    return bool(getattr(store, "volatile", False))


def open_store(*, redis_url: str, sqlite_path: Path, memory: bool = False) -> EdgeStore:
    """Redis when a URL is given; else, with `memory`, request state in memory and identity's marks
    in the SQLite file (one gateway process); else everything in the SQLite file."""
    if redis_url:
        from gateway.policies.store_redis import RedisEdgeStore

        return RedisEdgeStore(redis_url)
    from gateway.policies.store_sqlite import SqliteEdgeStore

    if memory:
        from gateway.policies.store_layered import LayeredEdgeStore
        from gateway.policies.store_memory import MemoryEdgeStore

        return LayeredEdgeStore(requests=MemoryEdgeStore(), marks=SqliteEdgeStore(sqlite_path))
    return SqliteEdgeStore(sqlite_path)
