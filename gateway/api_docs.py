"""The API's documentation pages, served by the gateway itself and working offline.

Swagger UI (`/docs`) and Redoc (`/redoc`) load their scripts, styles and icon from `/docs/assets/`:
the builds bundled in the pinned `fastapi-offline` package (requirements.lock), never from a CDN, so
the pages work on an isolated network and under a `default-src 'self'` Content-Security-Policy. `/`
lists the documents; `/v1/partner/openapi.json` is the description to hand to partner platforms.

The descriptions are built once, on their first request, in a worker thread: FastAPI takes seconds to
describe every route, and the event loop keeps serving the API meanwhile.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.openapi_partner import partner_openapi

ASSETS_URL = "/docs/assets"
ASSETS_DIR = files("fastapi_offline") / "static"
SWAGGER_JS = f"{ASSETS_URL}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{ASSETS_URL}/swagger-ui.css"
REDOC_JS = f"{ASSETS_URL}/redoc.standalone.js"
FAVICON = f"{ASSETS_URL}/favicon.png"
OPENAPI_URL = "/openapi.json"
PARTNER_OPENAPI_URL = "/v1/partner/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# no call to the public swagger.io validator (its badge); tokens entered in Authorize are not kept in the
# browser's storage (persistAuthorization stays off: a bank's staff tokens do not outlive the page)
SWAGGER_PARAMETERS = {"validatorUrl": None, "displayOperationId": True}

# (path, what it is) on the index page
DOCUMENTS = (
    ("/docs", "Swagger UI: every route, with Authorize and Try it out"),
    ("/redoc", "Redoc: the same description to read"),
    (OPENAPI_URL, "OpenAPI 3.1 description of the whole API"),
    (PARTNER_OPENAPI_URL, "OpenAPI description of the partner routes only, to hand to partner platforms"),
    ("/problems", "What each problem `code` means and how to fix it"),
)


def _index(title: str) -> str:
    items = "\n".join(
        f'<li><a href="{path}">{html.escape(path)}</a>: {html.escape(text)}</li>' for path, text in DOCUMENTS
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<link rel="icon" href="{FAVICON}"></head>'
        f"<body><h1>{html.escape(title)}</h1><ul>\n{items}\n</ul></body></html>"
    )


class Descriptions:
    """The whole API's description and the partner one, as JSON bytes, built once off the event loop."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._built: asyncio.Future[tuple[bytes, bytes]] | None = None

    def _build(self) -> tuple[bytes, bytes]:
        document = self._app.openapi()
        return _json(document), _json(partner_openapi(document))

    async def get(self) -> tuple[bytes, bytes]:
        if self._built is None:
            self._built = asyncio.ensure_future(asyncio.to_thread(self._build))
        try:
            return await asyncio.shield(self._built)
        except Exception:
            self._built = None  # a failed build is not kept: the next request tries again
            raise


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def install_api_docs(app: FastAPI) -> None:
    """`/`, the descriptions, `/docs`, `/redoc` and their assets (none of them in the description)."""
    assert app.openapi_url is None, "the gateway serves its descriptions itself"
    descriptions = Descriptions(app)
    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")

    def description(url: str, name: str, pick: Callable[[tuple[bytes, bytes]], bytes]) -> None:
        async def serve() -> Response:
            return Response(pick(await descriptions.get()), media_type="application/json")

        app.add_api_route(url, serve, methods=["GET"], include_in_schema=False, name=name)

    def page(path: str, name: str, build: Callable[..., HTMLResponse], title: str, **assets: Any) -> None:
        async def render() -> HTMLResponse:
            return build(openapi_url=OPENAPI_URL, title=f"{app.title}: {title}", **assets)

        app.add_api_route(path, render, methods=["GET"], include_in_schema=False, name=name)

    description(OPENAPI_URL, "openapi_description", lambda built: built[0])
    description(PARTNER_OPENAPI_URL, "partner_description", lambda built: built[1])

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(_index(app.title))

    page(
        "/docs",
        "swagger_ui",
        get_swagger_ui_html,
        "Swagger UI",
        swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS,
        swagger_favicon_url=FAVICON,
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    page(
        "/redoc",
        "redoc",
        get_redoc_html,
        "Redoc",
        redoc_js_url=REDOC_JS,
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )
