"""Reads (`read_session`) on SQLite and PostgreSQL: never wait for a writer's lock, see only committed
rows, keep the request's deadline as their lock wait, and reuse one read-only engine per engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Field, SQLModel

from services.runtime.db import make_engine, read_session, transaction
from services.runtime.deadlines import current_deadline
from tests.support.databases import DATABASE_KINDS, fresh_database_url

pytestmark = pytest.mark.parametrize("kind", DATABASE_KINDS)


class ReadCounter(SQLModel, table=True):
    __tablename__ = "test_read_counter"

    id: int = Field(primary_key=True)
    value: int = 0


@pytest.fixture
def engine(kind: str, tmp_path: Path):
    with fresh_database_url(kind, tmp_path) as url:
        engine = make_engine(url, busy_timeout_s=5.0)
        ReadCounter.__table__.create(engine)
        with transaction(engine) as session:
            session.add(ReadCounter(id=1, value=1))
        yield engine
        engine.dispose()


def test_a_read_does_not_wait_for_a_writer_and_sees_only_committed_rows(engine, kind: str) -> None:
    writing, release = threading.Event(), threading.Event()

    def write() -> None:
        with transaction(engine) as session:
            session.exec(text("UPDATE test_read_counter SET value = 2 WHERE id = 1"))
            writing.set()
            release.wait(10)

    writer = threading.Thread(target=write)
    writer.start()
    assert writing.wait(5)
    try:
        started = time.monotonic()
        with read_session(engine) as session:
            assert session.get(ReadCounter, 1).value == 1  # the uncommitted 2 is not seen
        assert time.monotonic() - started < 1.0  # the writer holds its lock until released
    finally:
        release.set()
        writer.join()
    with read_session(engine) as session:
        assert session.get(ReadCounter, 1).value == 2


def test_reads_share_one_read_only_engine(engine, kind: str) -> None:
    with read_session(engine) as first, read_session(engine) as second:
        assert first.get_bind() is second.get_bind()
        assert first.get_bind() is not engine


def _lock_wait_ms(session, kind: str) -> int:  # type: ignore[no-untyped-def]  # a SQLModel session
    if kind == "sqlite":
        return int(session.exec(text("PRAGMA busy_timeout")).one()[0])
    return int(str(session.exec(text("SHOW lock_timeout")).one()[0]).removesuffix("ms").removesuffix("s"))


def test_a_reads_lock_wait_follows_the_request_deadline(engine, kind: str) -> None:
    token = current_deadline.set(time.monotonic() + 1.0)
    try:
        with read_session(engine) as session:
            waited_ms = _lock_wait_ms(session, kind)
    finally:
        current_deadline.reset(token)
    assert 500 <= waited_ms <= 750  # the second left, less the margin kept to answer "busy"
    if kind == "sqlite":  # without a deadline, the engine's busy timeout again
        with read_session(engine) as session:
            assert _lock_wait_ms(session, kind) == 5000
