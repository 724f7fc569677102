"""The shared edge store: one-time nonces, rate-limit windows and idempotency records.

Redis when REDIS_URL is set (several hosts), otherwise a SQLite file that every gateway replica and
plugin server on one machine shares. Methods are synchronous: plugin handlers run in threads and the
gateway calls them through `asyncio.to_thread`.
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


def open_store(*, redis_url: str, sqlite_path: Path) -> EdgeStore:
    """Redis when a URL is given, else the SQLite file."""
    if redis_url:
        from gateway.policies.store_redis import RedisEdgeStore

        return RedisEdgeStore(redis_url)
    from gateway.policies.store_sqlite import SqliteEdgeStore

    return SqliteEdgeStore(sqlite_path)
