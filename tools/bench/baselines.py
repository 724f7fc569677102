"""The two baselines every scenario is compared with, each run as its own process.

`python -m tools.bench.baselines bare PORT` serves a bare FastAPI JSON endpoint;
`python -m tools.bench.baselines echo PORT` serves a gRPC server (the standard health service);
`python -m tools.bench.baselines grpc PORT ECHO_ADDR` serves a FastAPI endpoint making one grpc.aio call.
Both gRPC ends use mutual TLS with PKI_DIR's certificates, as the system's gateway and services do.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import uvicorn
from fastapi import FastAPI
from fastapi import Request as HttpRequest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.runtime.grpc_client import channel_options
from services.runtime.pki import ServiceIdentity, load_identity
from tools.bench.scenario import Request, RequestFactory, Scenario


def pki_identity(name: str) -> ServiceIdentity:
    return load_identity(name, Path(os.environ["PKI_DIR"]).resolve())


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/json")
    async def json_endpoint() -> dict[str, str]:
        return {"status": "ok"}

    return app


def grpc_app(echo_addr: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        credentials = pki_identity("gateway").channel_credentials
        async with grpc.aio.secure_channel(
            echo_addr, credentials, options=channel_options("identity")
        ) as channel:
            app.state.stub = health_pb2_grpc.HealthStub(channel)
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/echo")
    async def echo(request: HttpRequest) -> dict[str, str]:
        reply = await request.app.state.stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        return {"status": health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}

    return app


async def serve_echo(port: int) -> None:
    """A grpc.aio server whose health service answers every Check (the echo of the baseline)."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_secure_port(f"127.0.0.1:{port}", pki_identity("identity").server_credentials())
    await server.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=1)


def serve_http(app: FastAPI, port: int) -> None:
    """Uvicorn configured as the gateway runs it."""
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bare_requests(_params: dict[str, Any]) -> RequestFactory:
    request = Request("GET", "/json")
    return lambda _i: request


def grpc_requests(_params: dict[str, Any]) -> RequestFactory:
    request = Request("GET", "/echo")
    return lambda _i: request


BASELINES = {
    "bare": Scenario("baseline.bare", "bare FastAPI JSON endpoint", bare_requests, target="bare"),
    "grpc": Scenario(
        "baseline.grpc", "FastAPI endpoint making one grpc.aio call", grpc_requests, target="grpc"
    ),
}
SCENARIOS = list(BASELINES.values())


def main(argv: list[str]) -> int:
    kind, port = argv[0], int(argv[1])
    if kind == "bare":
        serve_http(bare_app(), port)
    elif kind == "grpc":
        serve_http(grpc_app(argv[2]), port)
    elif kind == "echo":
        asyncio.run(serve_echo(port))
    else:
        print(f"unknown baseline {kind}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
