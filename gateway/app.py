"""The gateway application: FastAPI app factory and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.api_docs import install_api_docs
from gateway.clients import Clients
from gateway.config import GatewaySettings
from gateway.core_banking import CoreBanking, CoreBankingSettings
from gateway.dispatch import dispatch_through_index
from gateway.edge import Edge
from gateway.ended_sessions import follow_ended_sessions
from gateway.middleware import EdgeMiddleware
from gateway.openapi import install_openapi
from gateway.personal_data_guard import PersonalDataGuard
from gateway.problems import install_problem_handlers
from gateway.revoked_keys import follow_revoked_keys
from gateway.route_index import index_routes
from gateway.routes import (
    audit,
    benefits,
    content,
    conversion,
    core,
    identity,
    platform,
    problem_types,
    reach,
    reviews,
    system,
    traces,
)
from gateway.routes.reach.receipts import ProviderReceipts, ProviderReceiptSettings
from gateway.server_telemetry import install_server_telemetry
from services.runtime.bus import Bus

API_DESCRIPTION = """
Lattice connects the bank's app matrix and its partner ecosystem.

Four kinds of caller: sibling bank apps (`Authorization: Bearer <access token>` issued by
identity, audience = the app), partner platforms (HMAC-signed requests, see the README),
operations staff (`Authorization: Bearer <operator token>`) and the bank's core banking system
(HMAC-signed with its own key, `/v1/core`). Errors are RFC 9457 problems.
"""


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.clients = Clients.open(settings)
        app.state.bus = await Bus.connect(
            settings.nats_url, name="gateway", stream_replicas=settings.nats_stream_replicas
        )
        app.state.edge = await Edge.start(settings=settings, clients=app.state.clients)
        app.state.core_banking = CoreBanking(
            settings=CoreBankingSettings(), store=app.state.edge.store, environment=settings.environment
        )
        app.state.provider_receipts = ProviderReceipts(
            settings=ProviderReceiptSettings(), environment=settings.environment
        )
        await follow_ended_sessions(app.state.bus, app.state.edge.store)
        await follow_revoked_keys(app.state.bus, app.state.edge.store)
        index_routes(app)
        try:
            yield
        finally:
            await app.state.bus.close()  # first: its consumer writes to the edge store
            await app.state.edge.close()
            await app.state.clients.close()

    app = FastAPI(
        title="Lattice API",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # gateway.server_telemetry traces and measures every request (the metrics' names and labels
        # are the dashboards'); FastAPI's own telemetry would only look for it on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
        openapi_url=None,  # gateway.api_docs serves /openapi.json (built off the event loop)
        docs_url=None,  # gateway.api_docs serves /docs and /redoc from local assets
        redoc_url=None,
    )
    install_problem_handlers(app)
    install_openapi(app)
    install_api_docs(app)
    for module in (
        system,
        problem_types,
        identity,
        benefits,
        content,
        reach,
        conversion,
        core,
        traces,
        audit,
        reviews,
        platform,
    ):
        # a module may expose several routers (e.g. conversion's public `/r/{code}` redirect)
        for router in getattr(module, "routers", None) or [module.router]:
            app.include_router(router)
    if settings.cors_allow_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(PersonalDataGuard)  # inside the edge: after its body limit and request id
    app.add_middleware(
        EdgeMiddleware, max_body_bytes=settings.max_body_bytes, timeout_s=settings.request_timeout_s
    )
    # one server span per request (its gRPC calls are its children), no span per ASGI message
    install_server_telemetry(app)
    # the router finds a request's route in the route index instead of trying every route
    dispatch_through_index(app.router)
    return app
