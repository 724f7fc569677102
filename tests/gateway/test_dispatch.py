"""The router dispatching through the route index picks the route FastAPI's own loop picks, sets the
same scope for it, and leaves everything else (404, 405, slash redirects, mounts) to FastAPI."""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.routing import _IncludedRouter, iter_route_contexts
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles

from gateway.app import create_app
from gateway.dispatch import IndexedDispatch, dispatch_through_index

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "BREW")


def _fastapi_choice(app: FastAPI, scope: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """The route FastAPI's loop handles with a FULL match (and its path parameters), else None."""
    for route in app.router.routes:
        match, child = route.matches(dict(scope))
        if match != Match.FULL:
            continue
        if isinstance(route, _IncludedRouter):
            while True:
                match, child, found, _context = route._match(dict(scope))
                if not isinstance(found, _IncludedRouter):
                    return found, child.get("path_params", {})
                route = found
        return route, child.get("path_params", {})
    return None


def _index_choice(app: FastAPI, scope: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, IndexedDispatch)
    for candidate in dispatch._index().candidates(scope["path"]):
        if candidate.regex is not None and candidate.regex.match(scope["path"]) is None:
            continue
        if not candidate.fast:
            return None  # FastAPI's own router decides
        match, child = dispatch._match(candidate, dict(scope))
        if match == Match.FULL:
            return candidate.route, child["path_params"]
    return None


def test_every_path_and_method_of_the_gateway_finds_the_route_fastapi_finds() -> None:
    app = create_app()
    paths = {"/", "/nope", "/r/", "/r/abc", "/v1/apps//wallet", "/v1/ops", "/docs/extra", "/docs/assets/x.js"}
    for context in iter_route_contexts(app.routes):
        template = context.path_format or ""
        paths.add(re.sub(r"\{[^}]+\}", "abc_1", template))
        paths.add(re.sub(r"\{[^}]+\}", "x", template) + "/more")
        paths.add(re.sub(r"\{[^}]+\}", "x", template) + "/")
    assert len(paths) > 300
    fast = 0
    for path in sorted(paths):
        for method in METHODS:
            scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
            mine = _index_choice(app, scope)
            if mine is None:
                continue  # left to FastAPI: nothing to compare
            fast += 1
            assert mine == _fastapi_choice(app, scope), (method, path)
    assert fast > 150  # the hot paths do take the index


def _probe_app(*, indexed: bool, tmp_path: Any) -> FastAPI:
    """Included routers (nested, with prefixes and dependencies), path convertors, a mount, a route
    of the app itself: each endpoint answers what FastAPI put in the scope for it."""
    app = FastAPI()

    def seen(request: Request, **params: Any) -> dict[str, Any]:
        scope = request.scope
        fastapi_scope = scope.get("fastapi", {})
        return {
            "endpoint": scope["endpoint"].__name__,
            "route": scope["route"].path,
            "path_params": {k: str(v) for k, v in scope["path_params"].items()},
            "params": {k: str(v) for k, v in params.items()},
            "router": type(scope["router"]).__name__,
            "included": sorted(fastapi_scope),
            "context": getattr(fastapi_scope.get("effective_route_context"), "path_format", None),
        }

    items = APIRouter(prefix="/v1/items")

    @items.get("/special")
    async def special(request: Request) -> dict[str, Any]:
        return seen(request)

    @items.get("/{item_id}")
    async def item(request: Request, item_id: Annotated[str, Path(max_length=8)]) -> dict[str, Any]:
        return seen(request, item_id=item_id)

    @items.put("/{item_id}")
    async def put_item(request: Request, item_id: str) -> dict[str, Any]:
        return seen(request, item_id=item_id)

    @items.get("/{item_id}/n/{n:int}")
    async def numbered(request: Request, item_id: str, n: int) -> dict[str, Any]:
        return seen(request, item_id=item_id, n=n)

    inner = APIRouter(prefix="/inner")

    @inner.get("/{rest:path}")
    async def deep(request: Request, rest: str) -> dict[str, Any]:
        return seen(request, rest=rest)

    outer = APIRouter(prefix="/v1/outer")
    outer.include_router(inner)

    @outer.post("/things")
    async def things(request: Request, body: dict[str, int]) -> dict[str, Any]:
        return {**seen(request), "body": body}

    app.include_router(items)
    app.include_router(outer)

    @app.get("/v1/top/{name}/{rest:path}")
    async def top(request: Request, name: str, rest: str) -> dict[str, Any]:
        return seen(request, name=name, rest=rest)

    (tmp_path / "a.txt").write_text("asset")
    app.router.routes.append(Mount("/v1/assets", app=StaticFiles(directory=tmp_path)))
    # a mount before a route that takes the same paths: the mount answers them
    app.router.routes.insert(0, Mount("/v1/top/files", app=StaticFiles(directory=tmp_path)))
    if indexed:
        dispatch_through_index(app.router)
    return app


REQUESTS = [
    ("GET", "/v1/items/special", None),
    ("GET", "/v1/items/abc", None),
    ("GET", "/v1/items/toolongitemid", None),  # 422 from the path's bound
    ("PUT", "/v1/items/abc", None),
    ("DELETE", "/v1/items/abc", None),  # 405 with Allow
    ("GET", "/v1/items/abc/n/12", None),
    ("GET", "/v1/items/abc/n/x", None),  # the int convertor does not match: 404
    ("GET", "/v1/items/abc/", None),  # redirect to the path without the slash
    ("HEAD", "/v1/items/abc", None),
    ("GET", "/v1/outer/inner/a/b/c", None),
    ("POST", "/v1/outer/things", {"a": 1}),
    ("POST", "/v1/outer/things", {"a": "x"}),  # 422 body
    ("GET", "/v1/outer/things", None),
    ("GET", "/v1/top/zed/x", None),
    ("GET", "/v1/top/files/a.txt", None),  # the mount, listed first, not the route
    ("GET", "/v1/assets/a.txt", None),
    ("GET", "/v1/assets/none.txt", None),
    ("GET", "/nowhere", None),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
async def test_the_indexed_router_answers_as_fastapis(method: str, path: str, body: Any, tmp_path) -> None:
    answers = []
    for indexed in (False, True):
        app = _probe_app(indexed=indexed, tmp_path=tmp_path)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            reply = await client.request(method, path, json=body, follow_redirects=False)
        headers = {k: v for k, v in reply.headers.items() if k not in ("date", "etag", "last-modified")}
        answers.append((reply.status_code, headers, reply.content))
    assert answers[0] == answers[1]
    assert isinstance(_probe_app(indexed=True, tmp_path=tmp_path).router.middleware_stack, IndexedDispatch)


async def test_routes_added_after_the_first_request_are_found(tmp_path) -> None:
    app = _probe_app(indexed=True, tmp_path=tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/v1/later")).status_code == 404

        @app.get("/v1/later")
        async def later() -> dict[str, str]:
            return {"ok": "yes"}

        assert (await client.get("/v1/later")).json() == {"ok": "yes"}
