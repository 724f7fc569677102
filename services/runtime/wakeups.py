"""Waking a background loop when a transaction that gave it work commits, from whichever thread.

A transaction that writes work for a loop (an outbox event for the relay, a postback delivery for
the sender) calls `wake_after_commit(session, topic)`; once it commits, every `Wakeup` registered
for that engine and topic is set. The loops still wake on a timer as a safety net (work written by
another process, a failed pass), but work written here never waits for that timer.
"""

from __future__ import annotations

import asyncio
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.runtime.waiting import wake_or_timeout

_TOPICS_KEY = "lattice.wakeup_topics"
_DEFERRED_KEY = "lattice.wakeup_deferred"
_listeners: weakref.WeakKeyDictionary[Engine, dict[str, weakref.WeakSet[Wakeup]]] = (
    weakref.WeakKeyDictionary()
)


class Wakeup:
    """An asyncio.Event of one event loop that any thread may set."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def set(self) -> None:
        loop = self._loop
        if loop is None:  # the loop has not started waiting: its first pass finds the work anyway
            self._event.set()
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._event.set()
            return
        try:
            loop.call_soon_threadsafe(self._event.set)
        except RuntimeError:  # the loop has closed: nobody is left to wake
            pass

    def clear(self) -> None:
        """Called by the loop before it looks for work, so that work committed meanwhile wakes it again."""
        self._loop = asyncio.get_running_loop()
        self._event.clear()

    async def wait(self, timeout_s: float) -> bool:
        """Until set, or `timeout_s` seconds; True when set (woken), False when the time ran out."""
        self._loop = asyncio.get_running_loop()
        await wake_or_timeout(self._event, max(timeout_s, 0.0))
        return self._event.is_set()


def wake_on_commit(engine: Engine, topic: str, wakeup: Wakeup) -> None:
    """Set `wakeup` after each commit on `engine` whose transaction called `wake_after_commit(topic)`."""
    _listeners.setdefault(engine, {}).setdefault(topic, weakref.WeakSet()).add(wakeup)


def stop_waking(engine: Engine, topic: str, wakeup: Wakeup) -> None:
    _listeners.get(engine, {}).get(topic, weakref.WeakSet()).discard(wakeup)


def wake_after_commit(session: Session, topic: str) -> None:
    """Mark the session's transaction: once it commits, wake the loops waiting on `topic`."""
    session.info.setdefault(_TOPICS_KEY, set()).add(topic)


def deferred_wakeups(collector: set[str]) -> dict[str, object]:
    """`info` for a session whose commit only releases a savepoint (services/runtime/group_commit.py):
    its topics go to `collector`, to be woken with `wake_topics` once the real commit is done."""
    return {_DEFERRED_KEY: collector}


def wake_topics(engine: Engine, topics: set[str]) -> None:
    by_topic = _listeners.get(engine, {})
    for topic in topics:
        for wakeup in list(by_topic.get(topic, ())):
            wakeup.set()


@event.listens_for(Session, "after_commit")
def _wake(session: Session) -> None:
    topics = session.info.pop(_TOPICS_KEY, None)
    if not topics:
        return
    deferred = session.info.get(_DEFERRED_KEY)
    if deferred is not None:
        deferred |= topics
        return
    bind = session.get_bind()
    wake_topics(bind.engine, topics)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_TOPICS_KEY, None)
