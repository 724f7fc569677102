"""Autogenerate a migration for one service: `make migration SERVICE=identity MSG="add x"`."""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlmodel import SQLModel

from services.runtime.db import alembic_config, make_engine, migrate


def main(service: str, message: str) -> None:
    importlib.import_module(f"services.{service}.models")
    (Path("services") / service / "migrations").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/autogen.db")
        migrate(engine, service)
        cfg = alembic_config(service)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            cfg.attributes["target_metadata"] = SQLModel.metadata
            command.revision(cfg, message=message, autogenerate=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "change")
