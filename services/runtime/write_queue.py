"""The in-process writer queue, for event-loop code: write units awaited, not threads on the file lock.

SQLite has one writer. Conversion's consumers, postback sender and relay each used to open their own
`BEGIN IMMEDIATE` transaction from a worker thread; when two met, the loser slept in SQLite's busy
handler (1-100 ms steps, in no order) and the milestone -> postback path waited behind clicks. Here
every write unit of a process goes to the engine's one writer thread (the group committer of
services/runtime/group_commit.py, shared with the synchronous `write_unit` callers), which runs the
queued units back to back, each in its own savepoint, one `BEGIN IMMEDIATE` and one fsync per group.
The coroutine awaits the unit's future: no worker thread is held while it waits, and the result (or
the unit's own error) arrives only after the group's commit, so what the caller is told is durable.

`after_commit(session, callback)` lets code inside a unit leave work for the caller's event loop
that must happen only once the unit is durable (handing a postback delivery to this process's
sender); callbacks of a unit that failed, or of a group that did not commit, never run.

On PostgreSQL a unit is its own transaction in a worker thread (row locks, no file lock to queue for).

`serialize_writers(engine)` makes the process's other writers on that SQLite engine (those still
opening their own transaction: the outbox relay, gRPC writes, a consumer not on the queue) wait in
one first-come-first-served line with the writer thread, in process, before `BEGIN IMMEDIATE`: the
writer thread, which takes the file lock group after group, would otherwise starve them (a busy
handler's sleeper only gets in if it wakes in the instant between two groups).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from services.runtime import group_commit
from services.runtime.bus import Delivery, Handler
from services.runtime.clock import utcnow
from services.runtime.db import lock_wait_ms, transaction
from services.runtime.outbox import ProcessedMessage

logger = logging.getLogger(__name__)
T = TypeVar("T")
_CALLBACKS_KEY = "lattice.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> bool:
    """Run `callback` on the caller's event loop once this unit has committed. False (nothing
    registered) when the session is not a unit of `write`: the caller then does without."""
    callbacks = session.info.get(_CALLBACKS_KEY)
    if callbacks is None:
        return False
    callbacks.append(callback)
    return True


def _unit(
    work: Callable[[Session], T], context: contextvars.Context, session: Session
) -> tuple[T, list[Any]]:
    callbacks: list[Callable[[], None]] = []
    session.info[_CALLBACKS_KEY] = callbacks
    try:
        # the caller's context (its span, so that what the unit records joins the caller's trace)
        return context.run(work, session), callbacks
    finally:
        session.info.pop(_CALLBACKS_KEY, None)


def _own_transaction(engine: Engine, unit: Callable[[Session], tuple[T, list[Any]]]) -> tuple[T, list[Any]]:
    with transaction(engine) as session:
        return unit(session)


async def write(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run `work(session)` as one write unit of `engine`'s writer queue and return its result once
    committed; raises what `work` raised (nothing of it kept), or `Unavailable` if the group could
    not commit. Cancelled before it starts, the unit never runs; once started it completes."""
    unit = partial(_unit, work, contextvars.copy_context())
    if engine.dialect.name != "sqlite":
        value, callbacks = await asyncio.to_thread(_own_transaction, engine, unit)
    else:
        with group_commit._lock:  # the registry of writer threads, shared with write_unit
            committer = group_commit._committers.get(engine)
            if committer is None or committer.stopped:
                committer = group_commit._committers[engine] = group_commit.GroupCommitter(engine)
            queued = committer.enqueue(unit)
        value, callbacks = await asyncio.wrap_future(queued.future)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the unit is committed; a callback's failure must not undo the caller's ack
            logger.exception("after-commit callback failed")
    return value


def idempotent(engine: Engine, consumer: str, apply: Callable[[Session, Delivery], None]) -> Handler:
    """`services.runtime.exactly_once.idempotent` through the writer queue: the effect and the
    processed-message row commit together, once; the handler returns (and the message is acked)
    after the commit."""

    def work(delivery: Delivery, session: Session) -> None:
        if session.get(ProcessedMessage, (consumer, delivery.event_id)) is not None:
            return
        session.add(ProcessedMessage(consumer=consumer, event_id=delivery.event_id, processed_at=utcnow()))
        apply(session, delivery)

    async def handle(delivery: Delivery) -> None:
        await write(engine, partial(work, delivery))

    return handle


class _WriterLine:
    """A first-come-first-served lock over an engine's write transactions, held from before BEGIN
    IMMEDIATE until the COMMIT (or ROLLBACK) has returned; owned by a DBAPI connection."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._owner: object | None = None

    def acquire(self, owner: object, timeout_s: float) -> bool:
        with self._cond:
            ticket = object()
            self._waiting.append(ticket)
            got = self._cond.wait_for(lambda: self._owner is None and self._waiting[0] is ticket, timeout_s)
            if not got:
                self._waiting.remove(ticket)
                self._cond.notify_all()  # the next in line may be at the front now
                return False
            self._waiting.popleft()
            self._owner = owner
            return True

    def release(self, owner: object) -> None:
        with self._cond:
            if self._owner is owner:
                self._owner = None
                self._cond.notify_all()


def _dbapi(connection: Any) -> object:
    """The raw DBAPI connection behind SQLAlchemy's pool proxy (or the raw connection itself)."""
    return getattr(connection, "dbapi_connection", None) or connection


_lines: weakref.WeakKeyDictionary[Engine, _WriterLine] = weakref.WeakKeyDictionary()


def serialize_writers(engine: Engine, *, busy_timeout_s: float = 5.0) -> None:
    """Queue this process's write transactions on `engine` (SQLite) in one fair in-process line;
    the file lock then only arbitrates between processes. No effect on other databases."""
    if engine.dialect.name != "sqlite" or engine in _lines:
        return
    line = _lines[engine] = _WriterLine()

    def before_begin(conn: Any) -> None:
        if conn.get_execution_options().get("lattice_readonly", False):
            return
        if not line.acquire(_dbapi(conn.connection), lock_wait_ms(busy_timeout_s) / 1000):
            raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))

    # before db.py's own begin hook, which sends BEGIN IMMEDIATE (`insert=True` does not order
    # engine-level listeners: the others are taken off and put back after this one)
    others = list(engine.dispatch.begin)
    for listener in others:
        event.remove(engine, "begin", listener)
    event.listen(engine, "begin", before_begin)
    for listener in others:
        event.listen(engine, "begin", listener)
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit_then_release(connection: Any) -> None:
        try:
            do_commit(connection)
        finally:
            line.release(_dbapi(connection))

    def rollback_then_release(connection: Any) -> None:
        try:
            do_rollback(connection)
        finally:
            line.release(_dbapi(connection))

    # this engine's dialect object only: after the COMMIT has returned (the fsync included)
    dialect.do_commit = commit_then_release  # type: ignore[method-assign,assignment]  # one instance's method
    dialect.do_rollback = rollback_then_release  # type: ignore[method-assign,assignment]  # one instance's method

    # a connection returned to the pool or thrown away never keeps the line
    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        line.release(dbapi_connection)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_connection: Any, _record: Any, _exc: Any) -> None:
        line.release(dbapi_connection)
