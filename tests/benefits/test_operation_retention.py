"""run_once (services/runtime/idempotency.py) keeps an operation's result for its retention, then drops it."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import InvalidInput
from services.runtime.idempotency import Operation, operations_rule, run_once
from services.runtime.retention import purge


class Counted(BaseModel):
    n: int


def test_a_key_replays_until_retention_deletes_its_result(engine: Engine) -> None:
    runs: list[int] = []

    def apply(_session: Session) -> Counted:
        runs.append(1)
        return Counted(n=len(runs))

    def once(request: dict[str, object]) -> tuple[Counted, bool]:
        return run_once(engine, scope="s1", key="k1", request=request, apply=apply, result_type=Counted)

    assert once({"amount": 5}) == (Counted(n=1), False)
    assert once({"amount": 5}) == (Counted(n=1), True)
    try:
        once({"amount": 6})
    except InvalidInput as refused:
        assert refused.reason == "idempotency_key_reused"
    else:
        raise AssertionError("a different request under a used key ran")

    rule = operations_rule(days=30)
    assert purge(engine, rule) == 0  # a fresh result stays
    with transaction(engine) as session:
        row = session.get(Operation, ("s1", "k1"))
        assert row is not None
        row.created_at = utcnow() - timedelta(days=31)
        session.add(row)
    assert purge(engine, rule) == 1
    with read_session(engine) as session:
        assert session.exec(select(Operation)).all() == []
    assert once({"amount": 6}) == (Counted(n=2), False)  # past retention the key is new again
