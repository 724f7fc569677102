"""Group commit: concurrent write units share one SQLite transaction, each in its own savepoint; a unit
that fails is rolled back alone; callers hear their result, and loops are woken, only after the commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.runtime import group_commit
from services.runtime.db import make_engine, migrate, read_session
from services.runtime.group_commit import write_unit
from services.runtime.outbox import OutboxEvent
from services.runtime.wakeups import Wakeup, stop_waking, wake_after_commit, wake_on_commit
from tests.support.databases import DATABASE_KINDS, fresh_database_url


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with fresh_database_url(request.param, tmp_path_factory.mktemp("group-commit")) as url:
        engine = make_engine(url)
        migrate(engine, "conversion")  # any service's schema: the runtime's outbox table is in all
        yield engine
        engine.dispose()


def _insert(event_id: str):
    def unit(session: Session) -> str:
        session.add(OutboxEvent(id=event_id, subject="platform.test", event_type="t", payload=b"x"))
        return event_id

    return unit


def _ids(engine: Engine) -> set[str]:
    with read_session(engine) as session:
        return set(session.exec(select(OutboxEvent.id)))


class Refused(Exception):
    pass


def test_concurrent_units_commit_together_and_a_failing_one_alone_is_rolled_back(engine: Engine) -> None:
    commits = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    running, release = threading.Event(), threading.Event()

    def first(session: Session) -> str:
        running.set()
        release.wait(10)  # holds the writer until the others are queued behind it
        return _insert("first")(session)

    def failing(session: Session) -> str:
        _insert("failing")(session)
        session.flush()
        raise Refused("refused by the unit")

    with ThreadPoolExecutor(max_workers=12) as pool:
        head = pool.submit(write_unit, engine, first)
        assert running.wait(10)
        others = [pool.submit(write_unit, engine, _insert(f"u{i}")) for i in range(10)]
        bad = pool.submit(write_unit, engine, failing)
        if engine.dialect.name == "sqlite":
            _wait_for(lambda: group_commit._committers[engine]._queue.qsize() == 11)
        release.set()
        assert head.result(10) == "first"
        assert sorted(f.result(10) for f in others) == sorted(f"u{i}" for i in range(10))
        with pytest.raises(Refused):
            bad.result(10)
    assert _ids(engine) >= {"first", *(f"u{i}" for i in range(10))} and "failing" not in _ids(engine)
    if engine.dialect.name == "sqlite":
        # the unit alone, then the eleven queued behind it in one transaction (one lock, one fsync)
        assert len(commits) == 2
    else:
        assert len(commits) == 11  # PostgreSQL: a transaction of its own each; the failing one rolled back


def test_a_loop_is_woken_only_once_the_group_committed(engine: Engine) -> None:
    seen_by_others: list[bool] = []

    class Probe(Wakeup):
        def set(self) -> None:  # what a relay reading at this moment would find
            seen_by_others.append("woken" in _ids(engine))
            super().set()

    probe = Probe()
    wake_on_commit(engine, "probe", probe)

    def unit(session: Session) -> str:
        wake_after_commit(session, "probe")
        return _insert("woken")(session)

    def refused(session: Session) -> str:
        wake_after_commit(session, "probe")
        _insert("never")(session)
        raise Refused("rolled back: nothing to wake for")

    try:
        assert write_unit(engine, unit) == "woken"
        with pytest.raises(Refused):
            write_unit(engine, refused)
    finally:
        stop_waking(engine, "probe", probe)
    assert seen_by_others == [True]


def _wait_for(condition) -> None:
    done = threading.Event()
    for _ in range(1000):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not reached")
