"""Run one service in the test's own event loop on port 0, with a real SQLite file and real NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc

from services.runtime.config import Settings
from services.runtime.pki import own_identity
from services.runtime.service import RunningService, Wiring, start_service
from tests.support.channels import aio_channel
from tests.support.databases import copy_migrated_sqlite


@asynccontextmanager
async def serve(
    name: str, wire: Wiring, *, tmp_path: Path, nats_url: str, caller: str = "gateway", **settings: object
) -> AsyncIterator[tuple[RunningService, grpc.aio.Channel]]:
    """Start `name` in-process; yield it and a channel to it as `caller` (mTLS); stop it afterwards."""
    config = Settings(var_dir=tmp_path, nats_url=nats_url, outbox_poll_interval_s=0.1, **settings)
    database = config.database_url_for(name)
    if database.startswith("sqlite:///") and not Path(database.removeprefix("sqlite:///")).exists():
        # a migrated copy: start_service's migration then finds nothing to do
        await asyncio.to_thread(copy_migrated_sqlite, name, Path(database.removeprefix("sqlite:///")))
    running = await start_service(name, wire, config, port=0)
    channel = aio_channel(f"127.0.0.1:{running.port}", peer=name, identity=own_identity(config, caller))
    try:
        yield running, channel
    finally:
        await channel.close()
        await running.stop()
