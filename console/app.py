"""The console's app factory: sessions, security headers, CSRF, error pages and the page modules."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from console import pages
from console.config import ConsoleSettings
from console.errors import install_error_pages, unexpected_error_page
from console.nav import NavEntry, entries_of
from console.security import SAFE_METHODS, apply_security_headers, csrf_protect
from console.session import COOKIE, SessionStore, open_session_store

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).with_name("static")
NO_SESSION_PATHS = ("/static/", "/healthz")


def discover_pages(app: FastAPI) -> list[NavEntry]:
    """Include every console/pages/*.py module's `router` and collect its `NAV`."""
    nav: list[NavEntry] = []
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
        if hasattr(module, "NAV"):
            nav.extend(entries_of(module.NAV))
    return nav


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.gateway_url,
            timeout=settings.api_timeout_s,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        ) as client:
            app.state.http = client
            try:
                yield
            finally:
                await app.state.sessions.close()

    app = FastAPI(
        title="Lattice operations workbench",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.settings = settings
    app.state.sessions = open_session_store(settings)
    install_error_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    app.state.nav = discover_pages(app)
    # a server span per page; OpsApi's calls are its children and carry `traceparent` to the gateway
    # (no spans per ASGI send/receive message: the page's span and its API calls are what a trace needs)
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,static/", exclude_spans=["receive", "send"]
    )

    @app.middleware("http")
    async def sessions_and_headers(request: Request, call_next) -> Response:
        request.state.trace_ids = []
        if request.url.path.startswith(NO_SESSION_PATHS):
            response = await call_next(request)
            apply_security_headers(request, response.headers)
            return response
        store: SessionStore = app.state.sessions
        cookie = request.cookies.get(COOKIE)
        session = await store.get(cookie)
        if session is None:
            session = await store.new(language=settings.default_language)
            if cookie:  # the browser had a session that ended: the sign-in page says so
                session.notice = "auth.expired"
        request.state.session = session
        try:
            response = await call_next(request)
        except Exception:
            logger.exception("unhandled error on %s %s", request.method, request.url.path)
            response = await unexpected_error_page(request)
        final = request.state.session
        if request.method not in SAFE_METHODS:  # a change may move the "waiting for you" badges
            final.counts.clear()
        await store.save(final)  # what the request changed; shared with the other replicas on Redis
        if final.id != cookie:
            response.set_cookie(
                COOKIE,
                final.id,
                httponly=True,
                samesite="strict",
                secure=_secure(request, settings),
                path="/",
                max_age=int(settings.absolute_timeout_s),
            )
        apply_security_headers(request, response.headers)
        return response

    return app


def _secure(request: Request, settings: ConsoleSettings) -> bool:
    if settings.cookie_secure == "auto":
        return request.url.scheme == "https"
    return settings.cookie_secure == "always"
