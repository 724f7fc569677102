"""Fixtures for the edge tests: edge stores (memory, SQLite file; Redis when redis-server can start)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from gateway.config import GatewaySettings
from gateway.policies.partner_signature import PartnerKey
from gateway.policies.store import EdgeStore, open_store
from gateway.policies.tokens import JwksCache
from tests.gateway.keys import Jwks, PartnerKeys, TokenIssuer
from tests.support.system import running_system
from tools.stack import free_port

PARTNER_SECRET = b"partner-ride-secret-0123456789ab"

STORE_KINDS = ["memory", "sqlite", "redis"]
TEST_APPS = ("mbank", "life")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server of the test session (or LATTICE_TEST_REDIS_URL)."""
    if os.environ.get("LATTICE_TEST_REDIS_URL"):
        yield os.environ["LATTICE_TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "no redis-server binary and no LATTICE_TEST_REDIS_URL: the Redis store path is not testable here"
        )
    port = free_port()
    work = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture
def issuer() -> TokenIssuer:
    """Signs tokens as identity does, with a key of its own."""
    return TokenIssuer()


@pytest.fixture
def jwks(issuer: TokenIssuer) -> JwksCache:
    """The issuer's key set as the edge caches it (refetched at once on an unknown key id)."""
    return JwksCache(Jwks(issuer).fetch, min_refresh_interval_s=0)


@pytest.fixture(params=STORE_KINDS)
def edge_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EdgeStore]:
    """Each kind of edge store, empty."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        store = open_store(redis_url=url, sqlite_path=tmp_path / "unused.db")
        store._redis.flushdb()
    else:
        store = open_store(redis_url="", sqlite_path=tmp_path / "edge.db", memory=request.param == "memory")
    try:
        yield store
    finally:
        store.close()


@dataclass
class EdgeGateway:
    """A real gateway (uvicorn on a free port) whose edge keys are the test's own."""

    url: str
    app: FastAPI
    issuer: TokenIssuer
    jwks: Jwks
    partner_keys: PartnerKeys
    settings: GatewaySettings


@asynccontextmanager
async def running_gateway(tmp_path: Path, nats_url: str, **overrides: object) -> AsyncIterator[EdgeGateway]:
    """Start create_app()'s gateway with the probe routes; the edge is rebuilt on the test's keys."""
    from gateway.app import create_app
    from gateway.edge import Edge, server_options
    from tests.gateway import probe_routes

    port = free_port()
    settings = GatewaySettings(
        var_dir=tmp_path,
        nats_url=nats_url,
        http_port=port,
        environment="test",
        **overrides,
    )
    app = create_app(settings)
    app.include_router(probe_routes.router)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, **server_options(settings)
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    issuer = TokenIssuer()
    jwks = Jwks(issuer)
    keys = PartnerKeys(PartnerKey(partner_id="ride", key_id="k1", secret=PARTNER_SECRET, not_before=0))
    await app.state.edge.close()
    app.state.edge = Edge.build(
        settings=settings, partner_keys=keys, jwks_fetch=jwks.fetch, app_ids_fetch=lambda: TEST_APPS
    )
    try:
        yield EdgeGateway(f"http://127.0.0.1:{port}", app, issuer, jwks, keys, settings)
    finally:
        server.should_exit = True
        await task
        await app.state.edge.close()


@pytest.fixture
async def edge_gateway(tmp_path: Path, nats_url: str) -> AsyncIterator[EdgeGateway]:
    async with running_gateway(tmp_path, nats_url) as gw:
        yield gw


# The OpenAPI tests' system: callers without credentials are limited per address (120 a minute by
# default), and the problem probes call every route without credentials; bodies are capped low so that
# an oversized body is cheap to send.
OPENAPI_SYSTEM_ENV = {
    "ENVIRONMENT": "test",
    "RATE_LIMITS": json.dumps({"partner": 600, "app": 300, "ops": 600, "public": 100_000, "click": 6000}),
    "MAX_BODY_BYTES": "65536",
}


@pytest.fixture(scope="package")  # stopped after the last test of tests/gateway
def openapi_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A system of the OpenAPI tests' own: the fuzzer creates apps, partners and content at random."""
    with (
        running_system(tmp_path_factory.mktemp("openapi-var"), extra_env=OPENAPI_SYSTEM_ENV) as stack,
        httpx.Client(base_url=stack.config.gateway_url, timeout=10) as client,
    ):
        # the first request builds the descriptions (seconds on a loaded machine); later ones read them
        assert client.get("/openapi.json", timeout=120).status_code == 200
        yield client
