"""Fresh databases for storage tests and whole systems: a SQLite file, or a new PostgreSQL database when
configured (LATTICE_TEST_POSTGRES_URL, set by make test-postgres)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from services.runtime.config import SERVICES
from tools.scratch_database import scratch_postgres_database

POSTGRES_ENV = "LATTICE_TEST_POSTGRES_URL"

# Parametrize storage tests with this: "sqlite" always, "postgres" only under `-m postgres`.
DATABASE_KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@contextmanager
def service_databases(kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment giving every service a fresh database of its own: `<SERVICE>_DATABASE_URL` for each
    on PostgreSQL (dropped afterwards); nothing on SQLite, whose files are under the system's VAR_DIR."""
    if kind == "sqlite":
        yield {}
        return
    with ExitStack() as databases:
        yield {
            f"{service.upper()}_DATABASE_URL": databases.enter_context(fresh_database_url(kind, tmp_path))
            for service in SERVICES
        }


@contextmanager
def fresh_database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database of `kind`; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
        return
    server_url = os.environ.get(POSTGRES_ENV)
    if not server_url:
        pytest.fail(
            f"{POSTGRES_ENV} must point at a PostgreSQL server for postgres tests (make test-postgres)"
        )
    with scratch_postgres_database(server_url) as url:
        yield url
