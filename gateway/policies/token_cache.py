"""Verified access tokens, kept until they expire so a token's ES256 signature is checked once.

A bounded LRU of (token, audience) -> its verified claims. A hit is used only while the token is
unexpired, its signing key is still in identity's key set and not withdrawn; the policies check an
ended session on every use, cached or not. Failures are never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    kid: str
    expires_at: float


class VerifiedTokens:
    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], VerifiedToken] = OrderedDict()

    def get(self, token: str, audience: str) -> VerifiedToken | None:
        """The unexpired verification of this token for this audience, if kept."""
        key = (token, audience)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found.expires_at <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found

    def put(self, token: str, audience: str, verified: VerifiedToken) -> None:
        with self._lock:
            self._entries[(token, audience)] = verified
            self._entries.move_to_end((token, audience))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
