"""Fresh databases for storage tests and whole systems: a SQLite file, or a new PostgreSQL database when
configured (LATTICE_TEST_POSTGRES_URL, set by make test-postgres)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from services.runtime.config import SERVICES
from services.runtime.db import make_engine, migrate
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
def fresh_database_url(kind: str, tmp_path: Path, *, service: str = "") -> Iterator[str]:
    """Yield the URL of a new database of `kind`; a PostgreSQL one is dropped afterwards.

    Empty, or on SQLite with `service` given already at that service's newest migration (a copy of
    migrated_sqlite's template; migrating it again finds nothing to do)."""
    if kind == "sqlite":
        path = tmp_path / f"{uuid.uuid4().hex}.db"
        if service:
            copy_migrated_sqlite(service, path)
        yield f"sqlite:///{path}"
        return
    server_url = os.environ.get(POSTGRES_ENV)
    if not server_url:
        pytest.fail(
            f"{POSTGRES_ENV} must point at a PostgreSQL server for postgres tests (make test-postgres)"
        )
    with scratch_postgres_database(server_url) as url:
        yield url


_templates: dict[str, Path] = {}


def copy_migrated_sqlite(service: str, path: Path) -> None:
    """Write at `path` a SQLite database of `service` at its newest migration: a copy of a template
    migrated once per test process (migrating takes up to a second or two on a loaded machine, and
    every in-process service, system and storage test starts from a new database)."""
    template = _templates.get(service)
    if template is None:
        folder = Path(tempfile.mkdtemp(prefix=f"lattice-{service}-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = folder / f"{service}.db"
        engine = make_engine(f"sqlite:///{template}")
        try:
            migrate(engine, service)
        finally:
            engine.dispose()  # closing the last connection folds the WAL into the file
        _templates[service] = template
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)


def seed_migrated_sqlite(var_dir: Path, env: Mapping[str, str], services: tuple[str, ...] = SERVICES) -> None:
    """Before a system (or one service) starts on `var_dir`, give each of `services` that will use
    SQLite under var_dir and has no database yet a migrated one; a database elsewhere is left alone."""
    for service in services:
        if env.get("DATABASE_URL") or env.get(f"{service.upper()}_DATABASE_URL"):
            continue
        path = var_dir / f"{service}.db"
        if not path.exists():
            copy_migrated_sqlite(service, path)
