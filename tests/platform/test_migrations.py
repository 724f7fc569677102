"""Every service's migrations build exactly the tables its models describe (no drift to forget)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from services.runtime.config import SERVICES
from services.runtime.db import make_engine, migrate


def _tables_of(service: str) -> set[str]:
    module = importlib.import_module(f"services.{service}.models")
    return {
        value.__tablename__
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, SQLModel) and hasattr(value, "__table__")
    }


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_models(service: str, tmp_path: Path) -> None:
    tables = _tables_of(service)
    assert {"outbox_event", "processed_message"} <= tables
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        migrate(engine, service)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()

    mine = [d for d in diffs if _table_of(d) in tables]
    assert mine == [], mine


def _table_of(diff: Any) -> str:
    """The table an Alembic autogenerate difference is about."""
    kind, *rest = diff[0] if isinstance(diff, list) else diff  # column changes come in lists
    if kind.endswith("_table"):  # (kind, Table)
        return str(rest[0].name)
    if kind.endswith(("_index", "_constraint", "_fk")):  # (kind, Index | Constraint)
        return str(rest[0].table.name)
    return str(rest[1])  # (kind, schema, table, column...)
