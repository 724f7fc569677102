"""Identity's one-statement reads and writes on a real database (SQLite always, PostgreSQL under
-m postgres): the profile's read gives the same answer an ORM session gave, typed columns converted,
a locked database a retryable error; an app's assertion is taken once by one upsert."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from services.identity.assertions import consume_assertion
from services.identity.models import AppAccount, Customer, UsedAssertion
from services.identity.profile import customer_profile
from services.identity.reads import OneStatementRead
from services.identity.recognition import Caller
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, migrate, transaction
from services.runtime.errors import NotFound, Unauthenticated, Unavailable
from tests.support.databases import DATABASE_KINDS, fresh_database_url


@contextmanager
def _identity_database(kind: str, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database_url(kind, tmp_path, service="identity") as url:
        engine = make_engine(url, busy_timeout_s=0.2)
        try:
            migrate(engine, "identity")
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with _identity_database(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    with _identity_database("sqlite", tmp_path) as engine:
        yield engine


def _seed(engine: Engine) -> None:
    now = utcnow()
    with transaction(engine) as session:
        session.add(
            Customer(
                customer_id="cus_a",
                assurance_level=2,
                branch="north",
                editions=["elderly", "student"],
                phone_hash="h",
                phone_masked="138******78",
            )
        )
        session.add(Customer(customer_id="cus_b"))
        session.add(AppAccount(app_id="mbank", app_user_id="a-mbank", customer_id="cus_a", linked_at=now))
        # two accounts in life: the earlier linked one is the customer's account there
        later, earlier = now + timedelta(seconds=2), now + timedelta(seconds=1)
        session.add(AppAccount(app_id="life", app_user_id="a-life-1", customer_id="cus_a", linked_at=later))
        session.add(AppAccount(app_id="life", app_user_id="a-life-2", customer_id="cus_a", linked_at=earlier))
        session.add(AppAccount(app_id="life", app_user_id="b-life", customer_id="cus_b", linked_at=now))


def _caller(customer_id: str, app_id: str) -> Caller:
    return Caller(customer_id=customer_id, app_id=app_id, assurance_level=1, token_id="t", scopes=())


def test_profile_read_answers_the_callers_own_account(engine: Engine) -> None:
    _seed(engine)
    mbank = customer_profile(engine=engine, caller=_caller("cus_a", "mbank"))
    assert (mbank.app_id, mbank.app_user_id, mbank.assurance_level) == ("mbank", "a-mbank", 2)
    assert (mbank.branch, mbank.phone_masked) == ("north", "138******78")
    assert list(mbank.editions) == ["elderly", "student"]  # the JSON column decoded on either database
    assert list(mbank.linked_app_ids) == ["life", "mbank"]
    assert customer_profile(engine=engine, caller=_caller("cus_a", "life")).app_user_id == "a-life-2"
    b = customer_profile(engine=engine, caller=_caller("cus_b", "life"))
    assert (b.app_user_id, list(b.linked_app_ids), list(b.editions)) == ("b-life", ["life"], [])
    for customer_id, app_id in (("cus_b", "mbank"), ("cus_nobody", "mbank")):
        with pytest.raises(NotFound):
            customer_profile(engine=engine, caller=_caller(customer_id, app_id))


def test_one_statement_read_binds_by_name_and_converts_columns(engine: Engine) -> None:
    _seed(engine)
    read = OneStatementRead(
        select(col(Customer.customer_id), col(Customer.editions))
        .where(col(Customer.assurance_level) >= bindparam("level"))
        .where(col(Customer.branch) == bindparam("branch"))
        .order_by(col(Customer.customer_id))
    )
    assert read.rows(engine, branch="north", level=2) == [("cus_a", ["elderly", "student"])]
    assert read.rows(engine, level=3, branch="north") == []
    assert read.rows(engine, level=1, branch="") == [("cus_b", [])]


def test_a_locked_sqlite_file_is_a_retryable_unavailable(sqlite_engine: Engine) -> None:
    """(SQLite's file lock: PostgreSQL readers never wait for a writer.)"""
    engine = sqlite_engine
    _seed(engine)
    engine.dispose()  # the pool's connections closed: the holder below can take the file for itself
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    try:
        # an exclusive-mode writer keeps readers of a WAL database out until it lets go
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE customer SET branch = 'south' WHERE customer_id = 'cus_a'")
        with pytest.raises(Unavailable):
            customer_profile(engine=engine, caller=_caller("cus_a", "mbank"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert customer_profile(engine=engine, caller=_caller("cus_a", "mbank")).branch == "north"


def _take(engine: Engine, jti: str) -> None:
    claims = {"jti": jti, "exp": int((utcnow() + timedelta(minutes=1)).timestamp())}
    with transaction(engine) as session:
        consume_assertion(session, app_id="mbank", claims=claims)


def test_an_assertion_is_taken_once_and_an_expired_record_gives_way(engine: Engine) -> None:
    # the upsert's answer is read from RETURNING: psycopg reports no row count for it (-1), which
    # once refused every first use on PostgreSQL
    _take(engine, "first-use")
    with pytest.raises(Unauthenticated, match="already used"):
        _take(engine, "first-use")
    with transaction(engine) as session:
        expired = UsedAssertion(app_id="mbank", jti="stale", expires_at=utcnow() - timedelta(seconds=1))
        session.add(expired)
    _take(engine, "stale")  # a record past its expiry no longer guards anything: retention's to delete
    with pytest.raises(Unauthenticated, match="already used"):
        _take(engine, "stale")
