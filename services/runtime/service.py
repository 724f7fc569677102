"""Wiring every service shares: settings -> telemetry -> engine -> bus -> gRPC server, and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from sqlalchemy.engine import Engine

from services.runtime.bus import Bus
from services.runtime.business_metrics import register_service as register_business_metrics
from services.runtime.callers import CallerPolicy
from services.runtime.config import Settings
from services.runtime.db import make_engine, migrate
from services.runtime.grpc_client import open_channel
from services.runtime.grpc_server import build_server, enable_reflection, set_serving
from services.runtime.outbox import OutboxRelay
from services.runtime.pki import ServiceIdentity, own_identity
from services.runtime.retention import Rule, platform_rules, run_retention
from services.runtime.telemetry import setup_telemetry

logger = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """What a service's wiring function gets to build its servicer and consumers."""

    name: str
    settings: Settings
    engine: Engine
    bus: Bus
    relay: OutboxRelay
    identity: ServiceIdentity
    # Which identities may call each RPC (declared by the wiring function next to its servicer).
    callers: CallerPolicy = field(default_factory=CallerPolicy)
    # Rows of the service's own that may be deleted after a while (added by its wiring function).
    retention: list[Rule] = field(default_factory=list)
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background loop (e.g. a scheduler) that is cancelled when the service stops."""
        self._tasks.append(asyncio.create_task(coro))

    def channel(self, service: str) -> grpc.aio.Channel:
        """A shared channel to a peer service (opened on first use)."""
        if service not in self._channels:
            self._channels[service] = open_channel(
                self.settings.addr(service),
                peer=service,
                identity=self.identity,
                default_timeout_s=self.settings.rpc_timeout_s,
            )
        return self._channels[service]

    async def close_channels(self) -> None:
        for ch in self._channels.values():
            await ch.close()


# wire(ctx, server) registers servicers and consumers and returns the full gRPC service names.
Wiring = Callable[[ServiceContext, grpc.aio.Server], Awaitable[list[str]]]


@dataclass
class RunningService:
    """A started service: its context, gRPC server and port; `stop()` shuts it down gracefully."""

    ctx: ServiceContext
    server: grpc.aio.Server
    port: int
    _health: object
    _names: list[str]
    _relay_task: asyncio.Task[None] | None

    async def stop(self) -> None:
        logger.info("%s stopping", self.ctx.name)
        await set_serving(self._health, self._names, False)  # type: ignore[arg-type]  # grpc_health's stubs type the servicer as the sync HealthServicer
        await self.server.stop(grace=5)
        for task in self.ctx._tasks:
            task.cancel()
        try:
            async with asyncio.timeout(5):
                await asyncio.gather(*self.ctx._tasks, return_exceptions=True)
        except TimeoutError:
            logger.warning("%s: background tasks did not stop within 5 s", self.ctx.name)
        if self._relay_task is not None:
            self.ctx.relay.stop()
            try:
                async with asyncio.timeout(5):
                    await self._relay_task
            except TimeoutError:
                self._relay_task.cancel()
        await self.ctx.bus.close()
        await self.ctx.close_channels()
        self.ctx.engine.dispose()


async def start_service(
    name: str, wire: Wiring, settings: Settings, *, port: int | None = None
) -> RunningService:
    """Migrate, connect to NATS, wire the servicer and consumers, and start serving.

    `port=0` picks a free port (tests); by default the port of `<SERVICE>_ADDR`.
    """
    engine = make_engine(settings.database_url_for(name))
    await asyncio.to_thread(migrate, engine, name)
    bus = await Bus.connect(settings.nats_url, name=name, stream_replicas=settings.nats_stream_replicas)
    relay = OutboxRelay(engine=engine, bus=bus, poll_interval_s=settings.outbox_poll_interval_s)
    identity = own_identity(settings, name)
    ctx = ServiceContext(
        name=name,
        settings=settings,
        engine=engine,
        bus=bus,
        relay=relay,
        identity=identity,
        callers=CallerPolicy(tools=settings.environment != "production"),
    )
    server, health_servicer = build_server(ctx.callers, identity)
    service_names = await wire(ctx, server)
    register_business_metrics(name, engine=engine)
    rules = platform_rules(
        outbox_days=settings.outbox_retention_days, processed_days=settings.processed_retention_days
    )
    ctx.spawn(
        run_retention(engine=engine, rules=rules + ctx.retention, interval_s=settings.retention_interval_s)
    )
    enable_reflection(server, service_names)
    listen_port = settings.grpc_port(name) if port is None else port
    listen_addr = f"{settings.grpc_listen_host}:{listen_port}"
    bound = server.add_secure_port(listen_addr, identity.server_credentials())
    await server.start()
    await set_serving(health_servicer, service_names, True)
    relay_task = asyncio.create_task(relay.run()) if settings.outbox_relay_enabled else None
    logger.info("%s serving gRPC on %s:%d", name, settings.grpc_listen_host, bound)
    return RunningService(ctx, server, bound, health_servicer, service_names, relay_task)


async def run_service(name: str, wire: Wiring, settings: Settings | None = None) -> None:
    """Run one service until SIGTERM/SIGINT, then stop gracefully."""
    settings = settings or Settings()
    telemetry = setup_telemetry(name, var_dir=settings.var_dir, log_level=settings.log_level)
    running = await start_service(name, wire, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop()
    telemetry.shutdown()


def main(name: str, wire: Wiring) -> None:
    """Entry point for `python -m services.<name>`."""
    asyncio.run(run_service(name, wire))
