"""Database engines, transactions and migrations for every service.

SQLite (WAL, one file per service under var/) is the embedded default; PostgreSQL when a URL says
so. Write transactions on SQLite start with BEGIN IMMEDIATE so that read-modify-write sequences are
serialised instead of failing late; on PostgreSQL the business code takes row locks
(`with_for_update`). Lock and busy timeouts surface as `Unavailable`, a retryable error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, create_engine

from services.runtime.deadlines import remaining_s
from services.runtime.errors import Unavailable

_RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_SERVICES_DIR = Path(__file__).parent.parent
_READONLY = "lattice_readonly"
# PostgreSQL SQLSTATEs that mean "try again": serialization failure, deadlock, lock timeout.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
# Time kept back from the caller's deadline to answer "busy, retry" before the caller gives up.
_ANSWER_MARGIN_S = 0.25
_MIN_LOCK_WAIT_S = 0.05


def lock_wait_ms(default_s: float) -> int:
    """How long a transaction may wait for a lock: the engine's busy timeout, but never past the
    deadline of the request being served (less a margin), so that a busy database becomes a
    retryable 503 the caller still hears instead of the caller's own timeout."""
    remaining = remaining_s()
    wait = default_s if remaining is None else min(default_s, remaining - _ANSWER_MARGIN_S)
    return int(max(wait, _MIN_LOCK_WAIT_S) * 1000)


def make_engine(url: str, *, busy_timeout_s: float = 5.0, pool_size: int = 10) -> Engine:
    """Create the engine of one service's database."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]  # SQLAlchemy event hooks receive untyped DBAPI objects
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]  # SQLAlchemy event hooks receive untyped DBAPI objects
            busy = f"PRAGMA busy_timeout={lock_wait_ms(busy_timeout_s)}"
            if conn.get_execution_options().get(_READONLY, False):
                # a read: straight on the driver's connection, without SQLAlchemy's statement and
                # result machinery for two statements that return nothing (most of a small read's cost)
                cursor = conn.connection.driver_connection.cursor()
                try:
                    cursor.execute(busy)
                    cursor.execute("BEGIN")
                finally:
                    cursor.close()
                return
            conn.exec_driver_sql(busy)
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    timeout_ms = int(busy_timeout_s * 1000)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"options": f"-c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms * 6}"},
    )

    @event.listens_for(engine, "begin")
    def _on_begin_pg(conn) -> None:  # type: ignore[no-untyped-def]  # SQLAlchemy event hooks receive untyped DBAPI objects
        if remaining_s() is not None:  # else the connection's lock_timeout holds
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {lock_wait_ms(busy_timeout_s)}")

    return engine


def is_retryable(exc: BaseException) -> bool:
    """True for lock/busy timeouts, deadlocks and serialization failures."""
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
        return True
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES
    return False


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A write transaction: commit on success, roll back on error; lock timeouts -> Unavailable."""
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except DBAPIError as exc:
        if is_retryable(exc):
            raise Unavailable("database_busy", "the database is busy; retry the request") from exc
        raise


def insert_ignore(session: Session, model: type, **values: object) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL (e.g. a counter row to update next)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.exec(insert(model).values(**values).on_conflict_do_nothing())


_READ_ENGINE = "_lattice_read_engine"


def _read_engine(engine: Engine) -> Engine:
    """`engine` with the read-only option, made once per engine (not per read) and kept on it."""
    found: Engine | None = getattr(engine, _READ_ENGINE, None)
    if found is None:
        found = engine.execution_options(**{_READONLY: True})
        setattr(engine, _READ_ENGINE, found)
    return found


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read-only session that never takes SQLite's write lock."""
    with Session(_read_engine(engine), expire_on_commit=False) as session:
        yield session


def alembic_config(service: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_RUNTIME_MIGRATIONS))
    cfg.set_main_option("version_locations", str(_SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("path_separator", "os")
    return cfg


def migrate(engine: Engine, service: str) -> None:
    """Bring a service's database to the newest migration (safe with several replicas starting)."""
    cfg = alembic_config(service)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate:{service}"})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
