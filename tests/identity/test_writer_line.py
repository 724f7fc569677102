"""Identity's writers wait in one fair in-process line (services/runtime/write_queue.py), not in
SQLite's busy handler: while another transaction holds the write lock, sign-ins that arrive one after
the other get in in the order they came, each as soon as the one before committed. Without the line
each waiter slept in growing steps (1-100 ms, in no order): the last to come was often the first in,
and a sign-in, a ticket or a binding waited tens of milliseconds after the lock was free.

Real in-process identity (gRPC, its SQLite file, NATS), its own wiring."""

from __future__ import annotations

import asyncio
import threading
import time

from sqlmodel import col, select

from services.identity.models import AppAccount
from services.runtime.db import read_session, transaction
from tests.identity.conftest import Identity

HOLD_S = 0.3  # the holder keeps the write lock this long
APART_S = 0.04  # the sign-ins arrive this far apart, all while the lock is held


async def test_sign_ins_waiting_for_the_write_lock_get_in_in_arrival_order(identity: Identity) -> None:
    engine = identity.service.ctx.engine
    await identity.sign_in("mbank", "u-line-warm")  # the pool's connections and the app registry warm
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with transaction(engine) as session:
            session.connection()  # the write lock taken now (a session begins lazily)
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert await asyncio.to_thread(holding.wait, 5)
    users = [f"u-line-{i}" for i in range(4)]
    sign_ins = []
    for user in users:
        sign_ins.append(asyncio.create_task(identity.sign_in("mbank", user)))
        await asyncio.sleep(APART_S)
    await asyncio.sleep(HOLD_S - APART_S * len(users))
    released = time.perf_counter()
    release.set()
    await asyncio.gather(*sign_ins)
    all_in = time.perf_counter() - released
    await asyncio.to_thread(thread.join, 5)

    with read_session(engine) as session:
        rows = session.exec(
            select(AppAccount.app_user_id)
            .where(col(AppAccount.app_user_id).in_(users))
            .order_by(col(AppAccount.linked_at))
        ).all()
    assert list(rows) == users
    # four short transactions back to back, not a busy handler's 100 ms naps (generous for a busy host)
    assert all_in < 1.0
