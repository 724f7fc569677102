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
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
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


def run_once(
    engine: Engine,
    *,
    scope: str,
    key: str,
    request: Mapping[str, object],
    apply: Callable[[Session], Result],
    result_type: type[Result],
) -> tuple[Result, bool]:
    """Apply `apply` once per key in one transaction; returns (result, replayed)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            "invalid_idempotency_key", f"an idempotency key of 1-{MAX_KEY_LENGTH} chars is required"
        )
    digest = request_hash(request)

    def unit(session: Session) -> tuple[Result, bool]:
        done = session.get(Operation, (scope, key))
        if done is not None:
            if done.request_hash != digest:
                raise InvalidInput(
                    "idempotency_key_reused", "this idempotency key was used for a different request"
                )
            return result_type.model_validate_json(done.result_json), True
        operation = Operation(scope=scope, idempotency_key=key, request_hash=digest)
        session.add(operation)
        # On PostgreSQL a concurrent twin blocks here on the primary key until we commit.
        session.flush()
        result = apply(session)
        operation.result_json = result.model_dump_json()
        return result, False

    for _attempt in range(3):
        try:
            # SQLite: committed with the concurrent operations in one group (one lock, one fsync)
            return write_unit(engine, unit)
        except IntegrityError:
            continue
    raise Unavailable("operation_in_progress", "the same operation is in progress; retry the request")
