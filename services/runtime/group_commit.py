"""Group commit on SQLite: concurrent write transactions share one transaction and one fsync.

SQLite has one writer at a time. Threads that each start their own transaction queue up on the file
lock, wake on SQLite's busy-handler sleeps (up to 100 ms apart, in no order) and pay one fsync per
commit: throughput falls and the slowest callers wait seconds. Here one writer thread per engine
takes the queued units of work in arrival order, runs each in its own SAVEPOINT (a unit that fails
is rolled back alone and its error goes to its caller) and commits them together: one lock
acquisition and one fsync for the group, first come first served. A caller hears its result only
after the group's commit, so what it is told is durable, as with its own transaction.

PostgreSQL has row locks and commits concurrent transactions together itself: there
`write_unit` simply runs the unit in its own transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from services.runtime.db import is_retryable, transaction
from services.runtime.deadlines import current_deadline, remaining_s
from services.runtime.errors import Unavailable
from services.runtime.wakeups import deferred_wakeups, wake_topics

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_GROUP = 16  # enough to share the fsync; small enough that no caller waits behind a long queue
IDLE_S = 30.0  # a writer thread with nothing to do for this long ends (a new one starts on demand)
# A caller gives up waiting this long before its deadline (the unit is then skipped if not started).
_ANSWER_MARGIN_S = 0.25


@dataclass
class _Unit:
    work: Callable[[Session], Any]
    future: Future[Any] = field(default_factory=Future)
    # the caller's request deadline: the group never waits for the file lock past the earliest one
    deadline: float | None = field(default_factory=current_deadline.get)


class GroupCommitter:
    """The writer thread of one SQLite engine; it ends after a while without work."""

    def __init__(self, engine: Engine, *, max_group: int = MAX_GROUP) -> None:
        self._engine = engine
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Unit] = queue.SimpleQueue()
        self.stopped = False
        threading.Thread(target=self._run, name="group-commit", daemon=True).start()

    def enqueue(self, work: Callable[[Session], Any]) -> _Unit:
        unit = _Unit(work)
        self._queue.put(unit)
        return unit

    @staticmethod
    def wait(unit: _Unit) -> Any:
        """The unit's result once its group committed; gives up before the caller's deadline only
        if the unit has not started (then it never runs)."""
        remaining = remaining_s()
        timeout = None if remaining is None else max(remaining - _ANSWER_MARGIN_S, 0.05)
        try:
            return unit.future.result(timeout=timeout)
        except TimeoutError:
            if unit.future.cancel():
                raise Unavailable("database_busy", "the database is busy; retry the request") from None
            return unit.future.result()  # started: its group commits or fails shortly

    def _take(self) -> list[_Unit] | None:
        try:
            units = [self._queue.get(timeout=IDLE_S)]
        except queue.Empty:
            with _lock:  # enqueue happens under the same lock: nothing is left behind
                if self._queue.empty():
                    self.stopped = True
                    if _committers.get(self._engine) is self:
                        del _committers[self._engine]
                    return None
            return []
        while len(units) < self._max_group:
            try:
                units.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return [u for u in units if u.future.set_running_or_notify_cancel()]

    def _run(self) -> None:
        while (units := self._take()) is not None:
            if not units:
                continue
            try:
                self._commit_group(units)
            except BaseException:  # never leave a caller waiting, never stop the writer
                logger.exception("group commit failed")
                for unit in units:
                    if not unit.future.done():
                        unit.future.set_exception(Unavailable("database_busy", "retry the request"))

    def _commit_group(self, units: list[_Unit]) -> None:
        results: list[tuple[_Unit, bool, Any]] = []
        topics: set[str] = set()
        deadlines = [u.deadline for u in units if u.deadline is not None]
        token = current_deadline.set(min(deadlines) if deadlines else None)  # read by db's BEGIN hook
        try:
            with self._engine.connect() as conn:
                with conn.begin():
                    for unit in units:
                        collected: set[str] = set()
                        session = Session(
                            bind=conn,
                            join_transaction_mode="create_savepoint",
                            expire_on_commit=False,
                            info=deferred_wakeups(collected),
                        )
                        try:
                            with session, session.begin():
                                value = unit.work(session)
                            results.append((unit, True, value))
                            topics |= collected
                        except Exception as exc:  # this unit's savepoint is rolled back, not the group
                            results.append((unit, False, exc))
        except DBAPIError as exc:
            failure: BaseException = exc
            if is_retryable(exc):
                failure = Unavailable("database_busy", "the database is busy; retry the request")
                failure.__cause__ = exc
            for unit in units:
                unit.future.set_exception(failure)
            return
        finally:
            current_deadline.reset(token)
        wake_topics(self._engine, topics)
        for unit, ok, value in results:
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)


_committers: dict[Engine, GroupCommitter] = {}
_lock = threading.Lock()


def write_unit(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run `work(session)` in a write transaction: grouped with concurrent ones on SQLite, its own
    transaction on PostgreSQL. Commits, or raises what `work` raised (nothing of it kept)."""
    if engine.dialect.name != "sqlite":
        with transaction(engine) as session:
            return work(session)
    with _lock:
        committer = _committers.get(engine)
        if committer is None or committer.stopped:
            committer = _committers[engine] = GroupCommitter(engine)
        unit = committer.enqueue(work)
    return committer.wait(unit)  # type: ignore[no-any-return]  # the committer's future carries the caller's own result type
