"""The sibling apps identity has registered, as the edge knows them: `/v1/apps/{app_id}` must be one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from gateway.policies.denial import PolicyDenied

# audiences of tokens that are not customers' (staff, identity itself, partners, services) are never apps
RESERVED_AUDIENCES = frozenset({"lattice-ops", "lattice-identity"})
_RESERVED_PREFIXES = ("lattice-", "partner:", "service:")


def not_an_app(app_id: str) -> bool:
    """True for the audiences of tokens of other kinds, which no app may ever take as its id."""
    return app_id in RESERVED_AUDIENCES or app_id.startswith(_RESERVED_PREFIXES)


class AppRegistry:
    """App ids fetched from identity, refreshed when stale or (at most once a second) on an unknown id."""

    def __init__(
        self,
        fetch: Callable[[], Iterable[str]],
        *,
        max_age_s: float = 30.0,
        min_refresh_interval_s: float = 1.0,
    ) -> None:
        self._fetch = fetch
        self._max_age_s = max_age_s
        self._min_interval_s = min_refresh_interval_s
        self._apps: frozenset[str] = frozenset()
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def require(self, app_id: str) -> None:
        """Return when `app_id` is a registered app; else 404 app_not_found."""
        if not_an_app(app_id) or not self._known(app_id):
            raise PolicyDenied(404, "app_not_found", "no such app")

    def fresh(self, app_id: str, *, margin_s: float = 1.0) -> bool:
        """True when `require(app_id)` answers from memory (for at least `margin_s` more)."""
        age = time.monotonic() - self._fetched_at
        return not_an_app(app_id) or (app_id in self._apps and age <= self._max_age_s - margin_s)

    def _known(self, app_id: str) -> bool:
        fresh = time.monotonic() - self._fetched_at <= self._max_age_s
        if app_id in self._apps and fresh:
            return True
        with self._lock:
            if time.monotonic() - self._fetched_at >= self._min_interval_s:
                self._refresh()
            return app_id in self._apps

    def _refresh(self) -> None:
        try:
            apps = frozenset(self._fetch())
        except Exception as exc:  # identity down: keep the apps we had
            if not self._apps:
                raise PolicyDenied(503, "registry_unavailable", "the app registry is unavailable") from exc
            return
        self._apps = apps
        self._fetched_at = time.monotonic()
