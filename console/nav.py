"""Navigation entries that each page module exposes as `NAV`, and the "waiting for you" badges."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from console.api import ApiProblem, OpsApi
from console.session import Session, SignInRequired

logger = logging.getLogger(__name__)

# the left navigation's groups by domain, in this order (label key nav.section_<name>)
SECTIONS = (
    "overview",
    "metrics",
    "review",
    "content",
    "benefits",
    "reach",
    "conversion",
    "platform",
    "admin",
)
COUNT_TTL_S = 15.0
COUNT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class NavEntry:
    """One link in the left navigation; `count` answers how many items wait for this operator."""

    label: str
    path: str
    order: int = 100
    section: str = "overview"
    roles: tuple[str, ...] = ()
    count: Callable[[OpsApi], Awaitable[int | None]] | None = None

    def visible_to(self, session: Session) -> bool:
        return not self.roles or session.role in self.roles


def entries_of(nav: object) -> list[NavEntry]:
    """A module's NAV: one entry or a list of them."""
    if isinstance(nav, NavEntry):
        return [nav]
    if isinstance(nav, list | tuple) and all(isinstance(e, NavEntry) for e in nav):
        return list(nav)
    raise TypeError("NAV must be a NavEntry or a list of NavEntry")


async def counts_for(entries: list[NavEntry], api: OpsApi, session: Session) -> dict[str, int | None]:
    """Badge counts per path, cached in the session for a few seconds; a failing count shows no badge."""
    now = time.monotonic()
    wanted = [e for e in entries if e.count is not None and e.visible_to(session)]
    stale = [e for e in wanted if now - session.counts.get(e.path, (-COUNT_TTL_S - 1, None))[0] > COUNT_TTL_S]

    async def one(entry: NavEntry) -> int | None:
        assert entry.count is not None
        try:
            async with asyncio.timeout(COUNT_TIMEOUT_S):
                return await entry.count(api)
        except (ApiProblem, TimeoutError, SignInRequired):
            return None
        except Exception:  # a page's count must never break every page
            logger.exception("navigation count failed for %s", entry.path)
            return None

    results = await asyncio.gather(*(one(e) for e in stale))
    for entry, value in zip(stale, results, strict=True):
        session.counts[entry.path] = (now, value)
    return {e.path: session.counts.get(e.path, (now, None))[1] for e in wanted}
