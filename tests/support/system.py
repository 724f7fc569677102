"""The whole system for a test: NATS, the five services and the gateway as real processes on free
ports, with the demo data loaded; stopped when the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.runtime.config import SERVICES
from tools.demo_data import load
from tools.stack import Stack, StackConfig


@contextmanager
def running_system(var_dir: Path, **config: Any) -> Iterator[Stack]:
    """`config` goes to StackConfig.ephemeral (extra_env, replicas...)."""
    stack = Stack(StackConfig.ephemeral(var_dir, **config))
    try:
        stack.start()
        load({s: stack.config.addr(s) for s in SERVICES}, pki_dir=stack.config.pki_dir, say=lambda _msg: None)
        yield stack
    finally:
        stack.stop()
