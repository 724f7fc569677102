"""run_once: the key is claimed with one INSERT ... ON CONFLICT DO NOTHING RETURNING and the result
stored with one Core UPDATE (issue 15); one effect and one stored answer per key, also for twins
sent at the same time, a different request under a used key refused, a failed operation's key
left free. On SQLite (group commit) and on PostgreSQL (-m postgres)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.runtime.db import make_engine
from services.runtime.errors import InvalidInput
from services.runtime.idempotency import Operation, run_once
from tests.support.databases import DATABASE_KINDS, fresh_database_url

_META = MetaData()
EFFECT = Table("effect", _META, Column("id", Integer, primary_key=True), Column("note", String(40)))


class Done(BaseModel):
    effect_id: int
    note: str


@pytest.fixture(params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database_url(request.param, tmp_path) as url:
        engine = make_engine(url, pool_size=20)
        try:
            Operation.__table__.create(engine)  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
            _META.create_all(engine)
            yield engine
        finally:
            engine.dispose()


def _effects(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EFFECT)).scalar_one())


def _apply(note: str):
    def apply(session: Session) -> Done:
        conn = session.connection()
        effect_id = conn.execute(insert(EFFECT).values(note=note).returning(EFFECT.c.id)).scalar_one()
        return Done(effect_id=effect_id, note=note)

    return apply


def test_a_new_key_costs_two_statements_and_a_replay_the_stored_answer(engine: Engine) -> None:
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany) -> None:
        if "operation" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    first, replayed = run_once(
        engine, scope="c1", key="k1", request={"a": 1}, apply=_apply("x"), result_type=Done
    )
    assert not replayed
    assert len(statements) == 2, statements
    assert statements[0].lstrip().upper().startswith("INSERT") and "ON CONFLICT" in statements[0].upper()
    assert statements[1].lstrip().upper().startswith("UPDATE")
    statements.clear()
    again, replayed = run_once(
        engine, scope="c1", key="k1", request={"a": 1}, apply=_apply("y"), result_type=Done
    )
    event.remove(engine, "before_cursor_execute", count)
    assert replayed and again == first
    assert _effects(engine) == 1
    # the same key under another scope is another operation
    other, replayed = run_once(
        engine, scope="c2", key="k1", request={"a": 1}, apply=_apply("z"), result_type=Done
    )
    assert not replayed and other.note == "z" and _effects(engine) == 2


def test_a_different_request_under_a_used_key_is_refused(engine: Engine) -> None:
    run_once(engine, scope="c1", key="k1", request={"a": 1}, apply=_apply("x"), result_type=Done)
    with pytest.raises(InvalidInput) as err:
        run_once(engine, scope="c1", key="k1", request={"a": 2}, apply=_apply("y"), result_type=Done)
    assert err.value.reason == "idempotency_key_reused"
    assert _effects(engine) == 1


def test_a_failed_operation_leaves_its_key_free(engine: Engine) -> None:
    def failing(session: Session) -> Done:
        _apply("lost")(session)
        raise InvalidInput("no", "refused after writing")

    with pytest.raises(InvalidInput):
        run_once(engine, scope="c1", key="k1", request={"a": 1}, apply=failing, result_type=Done)
    assert _effects(engine) == 0
    done, replayed = run_once(
        engine, scope="c1", key="k1", request={"a": 1}, apply=_apply("x"), result_type=Done
    )
    assert not replayed and done.note == "x" and _effects(engine) == 1


def test_twins_at_the_same_time_have_one_effect_and_one_answer(engine: Engine) -> None:
    start = threading.Barrier(12)

    def twin(i: int) -> tuple[Done, bool]:
        start.wait()
        return run_once(engine, scope="c1", key="same", request={"a": 1}, apply=_apply("t"), result_type=Done)

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(twin, range(12)))
    assert _effects(engine) == 1
    assert len({done.effect_id for done, _ in outcomes}) == 1
    assert sorted(replayed for _, replayed in outcomes) == [False] + [True] * 11
