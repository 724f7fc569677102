"""The one periodic loop of the background tasks: run a pass, log what failed, wait (with jitter), again."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from services.runtime.errors import Unavailable
from services.runtime.waiting import wake_or_timeout

logger = logging.getLogger(__name__)


async def run_periodically(
    work: Callable[[], Awaitable[object]],
    *,
    name: str,
    interval_s: float,
    stop: asyncio.Event | None = None,
    jitter: float = 0.1,
    wait_first: bool = False,
) -> None:
    """Run `work` every `interval_s` seconds (give or take `jitter` of it) until `stop` is set or cancelled.

    A failed pass is logged and tried again at the next interval, never ending the loop; Unavailable
    (a busy database) is a warning. The jitter keeps the replicas of a service from passing in step.
    """
    stop = stop or asyncio.Event()
    if wait_first:
        await wake_or_timeout(stop, _spread(interval_s, jitter))
    while not stop.is_set():
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Unavailable:
            logger.warning("%s skipped: the database is busy", name)
        except Exception:
            logger.exception("%s failed; retrying at the next interval", name)
        await wake_or_timeout(stop, _spread(interval_s, jitter))


def _spread(interval_s: float, jitter: float) -> float:
    return interval_s * random.uniform(1 - jitter, 1 + jitter)
