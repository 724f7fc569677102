"""Identity, conversion and the gateway in the test's event loop: real gRPC, NATS, HTTP and SQLite."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from gateway.app import create_app
from gateway.config import GatewaySettings
from services.identity import demo_data
from services.identity.__main__ import wire as identity_wire
from tests.conversion.conftest import Conversion, eventually, running_conversion
from tests.conversion.receiver import Receiver, running_receiver
from tests.support.inprocess import serve
from tools.stack import free_port


@dataclass
class System:
    conversion: Conversion
    identity: identity_pb2_grpc.RegistryServiceStub
    receiver: Receiver
    gateway_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway_url, timeout=10)


@asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.http_port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.http_port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def running_system(tmp_path: Path, nats_url: str) -> AsyncIterator[System]:
    pki_dir = tmp_path / "pki"  # one service CA for every process of this system (mutual TLS)
    async with AsyncExitStack() as stack:
        _identity, identity_channel = await stack.enter_async_context(
            serve(
                "identity", identity_wire, tmp_path=tmp_path / "identity", nats_url=nats_url, pki_dir=pki_dir
            )
        )
        await demo_data.load(identity_channel)
        identity_addr = f"127.0.0.1:{_identity.port}"
        receiver = await stack.enter_async_context(running_receiver())
        env = {
            "CONVERSION_POSTBACK_ALLOWLIST": json.dumps([f"127.0.0.1:{receiver.port}"]),
            "CONVERSION_POSTBACK_BACKOFF_S": "0.1",
            "CONVERSION_POSTBACK_POLL_INTERVAL_S": "0.05",
            "CONVERSION_SAFE_LANDING_URL": "https://www.bank.example/safe",
        }
        conversion = await stack.enter_async_context(
            running_conversion(
                tmp_path / "conversion", nats_url, env, identity_addr=identity_addr, pki_dir=pki_dir
            )
        )
        for partner_id in demo_data.DEMO_PARTNERS:
            await eventually(
                lambda p=partner_id: conversion.stub.GetPartnerProfile(
                    pb.GetPartnerProfileRequest(partner_id=p)
                )
            )
        settings = GatewaySettings(
            environment="test",
            var_dir=tmp_path / "gateway",
            nats_url=nats_url,
            http_port=free_port(),
            pki_dir=pki_dir,
            # the trust-boundary tests send hundreds of generated requests per operator
            rate_limits={group: 100_000 for group in ("partner", "app", "ops", "public", "click")},
            identity_addr=identity_addr,
            conversion_addr=f"127.0.0.1:{conversion.service.port}",
        )
        os.makedirs(settings.var_dir, exist_ok=True)
        url = await stack.enter_async_context(running_gateway(settings))
        yield System(conversion, identity_pb2_grpc.RegistryServiceStub(identity_channel), receiver, url)
