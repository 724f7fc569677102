"""The embedded default edge store: per-request state in memory, identity's marks in the shared file.

Nonces, rate-limit windows, lockout counters and idempotency records change on every request:
they live in the gateway's memory (MemoryEdgeStore), so a request costs no disk write. The marks
identity's events set (ended sessions, withdrawn signing keys, revoked partner keys) change a few
times a day and must survive a restart and be seen by Kong's plugins on the same machine: they
stay in the SQLite file, written by the event consumers and read per request (a read, no fsync).
So do the nonces of the core banking system and providers' webhook ids (a few a second at most).
"""

from __future__ import annotations

from gateway.policies.partner_signature import revoked_key_key
from gateway.policies.store import EdgeStore, OperationClaim, OperationRecord, WindowCount
from gateway.policies.store_memory import MemoryEdgeStore
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

    def __init__(self, *, requests: MemoryEdgeStore, marks: EdgeStore) -> None:
        self.requests = requests
        self.marks = marks
        self.started_at = requests.started_at

    def _for(self, key: str) -> EdgeStore:
        return self.marks if key.startswith(MARK_PREFIXES) else self.requests

    def claim_once(self, key: str, *, ttl_s: int) -> bool:
        return self._for(key).claim_once(key, ttl_s=ttl_s)

    def is_claimed(self, key: str) -> bool:
        return self._for(key).is_claimed(key)

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
