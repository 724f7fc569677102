"""Failed authentications per claimed client (operator, app, partner): locked out after too many.

Counted in the shared edge store by the id the caller claims, not by its address, so guessing one
operator's secret or one partner's key from many addresses meets the same limit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.policies.denial import PolicyDenied
from gateway.policies.store import EdgeStore


@dataclass(frozen=True)
class LockoutRule:
    """At most `max_failures` failures within `window_s`; then refused for `lockout_s`."""

    max_failures: int
    window_s: int = 300
    lockout_s: int = 300


DEFAULT_RULES = {
    "operator": LockoutRule(max_failures=5),
    "app": LockoutRule(max_failures=20),
    "partner": LockoutRule(max_failures=20),
}


class AuthLockout:
    """Refuses a locked-out client with 429 and Retry-After; counts its failed authentications."""

    def __init__(self, *, store: EdgeStore, rules: dict[str, LockoutRule] | None = None) -> None:
        self._store = store
        self._rules = DEFAULT_RULES if rules is None else rules

    def check(self, *, kind: str, client_id: str) -> None:
        """Raise 429 while the client is locked out."""
        rule = self._rules.get(kind)
        if rule is not None and self._store.is_claimed(_key("locked", kind, client_id)):
            raise PolicyDenied(
                429,
                "authentication_locked",
                f"too many failed authentications; retry in {rule.lockout_s}s",
                headers={"Retry-After": str(rule.lockout_s)},
            )

    def failed(self, *, kind: str, client_id: str) -> None:
        """Count one failure; past the limit the client is locked out."""
        rule = self._rules.get(kind)
        if rule is None:
            return
        counted = self._store.hit(_key("failed", kind, client_id), window_s=rule.window_s)
        if counted.count >= rule.max_failures:
            self._store.claim_once(_key("locked", kind, client_id), ttl_s=rule.lockout_s)


def _key(what: str, kind: str, client_id: str) -> str:
    return f"auth-{what}:{kind}:{hashlib.sha256(client_id.encode()).hexdigest()[:32]}"
