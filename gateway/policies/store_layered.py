"""The embedded default edge store: per-request state in memory, identity's marks in the shared file.

Nonces, rate-limit windows, lockout counters and idempotency records change on every request:
they live in the gateway's memory (MemoryEdgeStore), so a request costs no disk write. The marks
identity's events set (ended sessions, withdrawn signing keys, revoked partner keys) change a few
times a day and must survive a restart and be seen by Kong's plugins on the same machine: they
stay in the SQLite file, written by the event consumers, with a copy in memory for the per-request
reads (this process writes them all; the file is read back at start).
So do the nonces of the core banking system and providers' webhook ids (a few a second at most).
"""

from __future__ import annotations

import time

from gateway.policies.partner_signature import revoked_key_key
from gateway.policies.store import OperationClaim, OperationRecord, WindowCount
from gateway.policies.store_memory import MemoryEdgeStore
from gateway.policies.store_sqlite import SqliteEdgeStore
from gateway.policies.tokens import ended_session_key, withdrawn_key_key

# the keys identity's events mark (see gateway/ended_sessions.py and gateway/revoked_keys.py), and
# the one-time ids of the low-volume signed callers (the core banking system's nonces, providers'
# webhook ids): kept in the file, they stay refused across a restart at the cost of a write each
MARK_PREFIXES = (
    *(
        key.split(":", 1)[0] + ":"
        for key in (ended_session_key("x"), withdrawn_key_key("x"), revoked_key_key("x", "y"))
    ),
    "core-nonce:",
    "provider-receipt:",
)


class LayeredEdgeStore:
    volatile = True

    def __init__(self, *, requests: MemoryEdgeStore, marks: SqliteEdgeStore) -> None:
        self.requests = requests
        self.marks = marks
        self.started_at = requests.started_at
        # This process is the only writer of the marks while its state is in memory (replicas use
        # the file or Redis): a copy of them in memory answers the per-request reads, the file keeps
        # them across restarts (read back here) and for Kong's plugins.
        self._mirror = marks.claimed(MARK_PREFIXES)

    def claim_once(self, key: str, *, ttl_s: int) -> bool:
        if not key.startswith(MARK_PREFIXES):
            return self.requests.claim_once(key, ttl_s=ttl_s)
        first = self.marks.claim_once(key, ttl_s=ttl_s)
        self._mirror[key] = max(self._mirror.get(key, 0.0), time.time() + ttl_s)
        return first

    def is_claimed(self, key: str) -> bool:
        if not key.startswith(MARK_PREFIXES):
            return self.requests.is_claimed(key)
        return self._mirror.get(key, 0.0) > time.time()

    def hit(self, key: str, *, window_s: int) -> WindowCount:
        return self.requests.hit(key, window_s=window_s)

    def begin_operation(
        self, key: str, *, fingerprint: str, lease_s: int
    ) -> tuple[OperationClaim | None, OperationRecord | None]:
        return self.requests.begin_operation(key, fingerprint=fingerprint, lease_s=lease_s)

    def finish_operation(self, claim: OperationClaim, *, response: bytes, ttl_s: int) -> None:
        self.requests.finish_operation(claim, response=response, ttl_s=ttl_s)

    def release_operation(self, claim: OperationClaim) -> None:
        self.requests.release_operation(claim)

    def close(self) -> None:
        self.requests.close()
        self.marks.close()
