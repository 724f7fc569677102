"""The one periodic loop (services/runtime/periodic.py): a failed pass never ends it; stop and cancel do."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.runtime.errors import Unavailable
from services.runtime.periodic import run_periodically


async def test_a_failed_pass_is_logged_and_the_loop_goes_on_until_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    passes: list[int] = []

    async def work() -> None:
        passes.append(len(passes) + 1)
        if len(passes) == 1:
            raise RuntimeError("first pass breaks")
        if len(passes) == 2:
            raise Unavailable("database_busy", "busy")
        if len(passes) == 4:
            stop.set()

    with caplog.at_level(logging.INFO, logger="services.runtime.periodic"):
        await asyncio.wait_for(run_periodically(work, name="test loop", interval_s=0.001, stop=stop), 30)

    assert passes == [1, 2, 3, 4]
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("ERROR", "test loop failed; retrying at the next interval") in messages
    assert ("WARNING", "test loop skipped: the database is busy") in messages


async def test_a_stop_during_the_first_wait_means_no_pass() -> None:
    stop = asyncio.Event()
    passes: list[int] = []

    async def work() -> None:
        passes.append(1)

    loop = asyncio.create_task(
        run_periodically(work, name="test loop", interval_s=3600, stop=stop, wait_first=True)
    )
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(loop, 30)
    assert passes == []


async def test_cancelling_the_task_ends_the_loop_even_inside_a_pass() -> None:
    entered = asyncio.Event()

    async def work() -> None:
        entered.set()
        await asyncio.Event().wait()  # a pass that would never end by itself

    loop = asyncio.create_task(run_periodically(work, name="test loop", interval_s=0.001))
    await asyncio.wait_for(entered.wait(), 30)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
