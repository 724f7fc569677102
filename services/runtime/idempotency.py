"""Idempotent operations: one result per (scope, key); a different request under a used key is refused.

A service that offers idempotent writes imports `Operation` into its models (its own `operation`
table) and appends `operations_rule(days)` to its retention rules: a result is kept that long, after
which the same key would run the operation again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.expression import Select, Update
from sqlmodel import Field, Session, SQLModel, col

from services.runtime.clock import utcnow
from services.runtime.errors import InvalidInput, Unavailable
from services.runtime.group_commit import write_unit
from services.runtime.retention import Rule

Result = TypeVar("Result", bound=BaseModel)
MAX_KEY_LENGTH = 200


class Operation(SQLModel, table=True):
    """An idempotent operation: the key, a hash of the request, and the result it produced."""

    __tablename__ = "operation"

    scope: str = Field(primary_key=True, max_length=80)
    idempotency_key: str = Field(primary_key=True, max_length=200)
    request_hash: str = Field(max_length=64)
    result_json: str = Field(default="", max_length=20000)
    created_at: datetime = Field(default_factory=utcnow)


def operations_rule(*, days: float) -> Rule:
    """Retention of the operations' results: `days` after the operation ran."""
    return Rule(
        "operation",
        Operation,
        (Operation.scope, Operation.idempotency_key),
        lambda now: col(Operation.created_at) < now - timedelta(days=days),
    )


def request_hash(request: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


class _Retry(Exception):
    """The key's row vanished or is not finished between the claim and the read: run again."""


_TABLE = cast(Table, Operation.__table__)  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
_KEY = (_TABLE.c.scope == bindparam("s")) & (_TABLE.c.idempotency_key == bindparam("k"))
# built once: each statement's cache key is not worked out again on every operation
_CLAIM: dict[str, ReturningInsert[tuple[str]]] = {
    name: dialect.insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["scope", "idempotency_key"])
    # the DBAPI's rows are enough: RETURNING says whether this transaction inserted the key
    .returning(_TABLE.c.scope)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_DONE: Select[tuple[str, str]] = select(_TABLE.c.request_hash, _TABLE.c.result_json).where(_KEY)
_STORE: Update = update(_TABLE).where(_KEY).values(result_json=bindparam("r"))


def run_once(
    engine: Engine,
    *,
    scope: str,
    key: str,
    request: Mapping[str, object],
    apply: Callable[[Session], Result],
    result_type: type[Result],
) -> tuple[Result, bool]:
    """Apply `apply` once per key in one transaction; returns (result, replayed).

    Two statements when the key is new (claim the key, store the result), none through the ORM:
    `INSERT ... ON CONFLICT DO NOTHING RETURNING` (SQLite >= 3.35, PostgreSQL) claims it, and on
    PostgreSQL a concurrent twin waits on the primary key until the claimant commits or rolls
    back, then inserts nothing and reads the stored result; one more statement on a replay."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            "invalid_idempotency_key", f"an idempotency key of 1-{MAX_KEY_LENGTH} chars is required"
        )
    digest = request_hash(request)
    claim = _CLAIM[engine.dialect.name]
    row = {
        "scope": scope,
        "idempotency_key": key,
        "request_hash": digest,
        "result_json": "",
        "created_at": utcnow(),
    }

    def unit(session: Session) -> tuple[Result, bool]:
        conn = session.connection()
        if conn.execute(claim, row).first() is None:
            done = conn.execute(_DONE, {"s": scope, "k": key}).first()
            if done is None or not done.result_json:
                raise _Retry  # removed by retention, or its claimant's transaction is still open
            if done.request_hash != digest:
                raise InvalidInput(
                    "idempotency_key_reused", "this idempotency key was used for a different request"
                )
            return result_type.model_validate_json(done.result_json), True
        result = apply(session)
        conn.execute(_STORE, {"s": scope, "k": key, "r": result.model_dump_json()})
        return result, False

    for _attempt in range(3):
        try:
            # SQLite: committed with the concurrent operations in one group (one lock, one fsync)
            return write_unit(engine, unit)
        except (IntegrityError, _Retry):
            continue
    raise Unavailable("operation_in_progress", "the same operation is in progress; retry the request")
