"""Conversion's writers in one process wait in one fair line (services/runtime/write_queue.py), not
on SQLite's file lock: with a busy timeout far shorter than the wait, every writer still gets in, in
the order it came, whether it opened its own transaction or queued a unit for the writer thread.
Real SQLite file with conversion's migrations; the same engine hooks the service installs."""

from __future__ import annotations

import asyncio
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion.models import PostbackEndpoint
from services.runtime.db import make_engine, migrate, transaction
from services.runtime.errors import Unavailable
from services.runtime.write_queue import serialize_writers, write

HOLD_S = 0.15  # each writer holds the write lock this long; the busy timeout is a third of it


def database(tmp_path: Path, *, line: bool) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'conversion.db'}", busy_timeout_s=0.05)
    migrate(engine, "conversion")
    if line:
        serialize_writers(engine, busy_timeout_s=10.0)
    # the pool's connections opened beforehand (as a running service has them): a new connection's
    # own set-up (PRAGMA journal_mode) is not what is measured here
    warm = [engine.connect() for _ in range(5)]
    for conn in warm:
        conn.close()
    return engine


def slow_insert(session: Session, name: str) -> None:
    session.connection()  # BEGIN IMMEDIATE now (a session begins lazily), then hold the lock
    time.sleep(HOLD_S)
    session.add(PostbackEndpoint(partner_id=name, url="https://partner.example/hook", secret="whsec_x"))


def named_insert(name: str, session: Session) -> None:
    slow_insert(session, name)


def threads_in_order(engine: Engine, count: int) -> list[BaseException | None]:
    """`count` threads each open their own write transaction, started 20 ms apart."""
    outcomes: list[BaseException | None] = [None] * count

    def writer(i: int) -> None:
        try:
            with transaction(engine) as session:
                slow_insert(session, f"t{i}")
        except BaseException as exc:  # noqa: BLE001  # the outcome is what the test reads
            outcomes[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    return outcomes


def written(engine: Engine) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(select(PostbackEndpoint).order_by(col(PostbackEndpoint.updated_at))).all()
        return [r.partner_id for r in rows]


def test_without_the_line_a_short_busy_timeout_turns_waiters_away(tmp_path: Path) -> None:
    engine = database(tmp_path, line=False)
    outcomes = threads_in_order(engine, 4)
    assert any(isinstance(o, Unavailable) for o in outcomes)  # what the line is for
    engine.dispose()


def test_writers_of_one_process_wait_in_line_and_get_in_in_arrival_order(tmp_path: Path) -> None:
    engine = database(tmp_path, line=True)
    outcomes = threads_in_order(engine, 4)
    assert outcomes == [None] * 4
    assert written(engine) == ["t0", "t1", "t2", "t3"]
    engine.dispose()


async def test_queued_units_and_own_transactions_share_the_line(tmp_path: Path) -> None:
    engine = database(tmp_path, line=True)
    units = [asyncio.create_task(write(engine, partial(named_insert, f"u{i}"))) for i in range(6)]
    await asyncio.sleep(0.01)
    # a writer with its own transaction while the writer thread has a queue of units: it neither
    # fails on the busy timeout nor waits for the whole queue (units come in groups)
    started = time.perf_counter()
    outcome = await asyncio.to_thread(threads_in_order, engine, 1)
    waited = time.perf_counter() - started
    await asyncio.gather(*units)
    assert outcome == [None]
    assert set(written(engine)) == {"t0"} | {f"u{i}" for i in range(6)}
    assert waited < 6 * HOLD_S + 1.0
    engine.dispose()


def test_a_writer_that_cannot_get_in_before_its_wait_ends_is_told_to_retry(tmp_path: Path) -> None:
    engine = database(tmp_path, line=False)
    serialize_writers(engine, busy_timeout_s=0.1)
    holding = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with transaction(engine) as session:
            holding.set()
            slow_insert(session, "holder")
            done.wait(2)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(2)
    with pytest.raises(Unavailable), transaction(engine) as session:
        slow_insert(session, "late")
    done.set()
    thread.join()
    # the line is free again once the holder committed
    with transaction(engine) as session:
        slow_insert(session, "after")
    assert sorted(written(engine)) == ["after", "holder"]
    engine.dispose()
