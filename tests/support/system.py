"""The whole system for a test: NATS, the five services and the gateway as real processes on free
ports, with the demo data loaded; stopped when the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.runtime.config import SERVICES
from tests.support.databases import seed_migrated_sqlite
from tools.demo_data import load
from tools.stack import Stack, StackConfig


@contextmanager
def running_system(var_dir: Path, **config: Any) -> Iterator[Stack]:
    """`config` goes to StackConfig.ephemeral (extra_env, replicas...)."""
    stack = Stack(StackConfig.ephemeral(var_dir, **config))
    try:
        # each service finds its database migrated (the services migrate from scratch in private_stack)
        seed_migrated_sqlite(stack.config.var_dir, stack.base_env())
        stack.start()
        load({s: stack.config.addr(s) for s in SERVICES}, pki_dir=stack.config.pki_dir, say=lambda _msg: None)
        yield stack
    finally:
        stack.stop()
