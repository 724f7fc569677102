"""Waiting in background loops without losing a cancellation."""

from __future__ import annotations

import asyncio


async def wake_or_timeout(event: asyncio.Event, timeout: float) -> None:
    """Wait until `event` is set or `timeout` seconds pass, whichever comes first.

    `asyncio.wait_for` on Python 3.11 can swallow a cancellation that arrives as the wait ends
    (fixed in 3.12), leaving a loop that never stops; `asyncio.timeout` does not.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass
