"""Load the demo data of every service (apps mbank and life, two partners, a few customers...).

Each service owns its part in `services/<name>/demo_data.py` as `async def load(channel)`, called
through gRPC in the order below. Loading twice is harmless: loaders skip what already exists.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path

from services.runtime.config import SERVICES
from services.runtime.grpc_client import open_channel
from services.runtime.pki import ensure_pki, load_identity

logger = logging.getLogger(__name__)


async def load_all(addrs: dict[str, str], *, pki_dir: Path, say=print) -> None:
    """Load every service's demo data as the "tools" identity of the stack's PKI."""
    ensure_pki(pki_dir)
    identity = load_identity("tools", pki_dir.resolve())
    for service in SERVICES:
        name = f"services.{service}.demo_data"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        channel = open_channel(addrs[service], peer=service, identity=identity, default_timeout_s=10)
        try:
            await module.load(channel)
            say(f"  demo data loaded: {service}")
        finally:
            await channel.close()


def load(addrs: dict[str, str], *, pki_dir: Path, say=print) -> None:
    asyncio.run(load_all(addrs, pki_dir=pki_dir, say=say))
