"""FastAPI's router dispatching through a route index: one bucket of candidates, not every route.

FastAPI (0.165) routes a request by asking each of the app's top-level routes in turn whether it
matches; an included router answers by trying each of its routes, and the one that matched tries
them all again to handle the request: some 150 regexes and as many scope copies per request, a
quarter of the gateway's own CPU on its hot paths. `IndexedDispatch` sits where the router's own
`app` sat (`router.middleware_stack`) and looks only at the routes whose templates share the path's
literal first two segments (`route_index.Buckets`), in FastAPI's order:

- the first of them that FastAPI's own `matches` calls a FULL match, if it is a FastAPI route
  (`APIRoute`, at the top or in an included router), is handled exactly as FastAPI would: the same
  scope keys (`router`, `endpoint`, `path_params`, `route`, the included router and the route's
  effective context, form limits) and the route's own `handle`;
- anything else is left to FastAPI's router as it was (`router.app`): no full match (404, 405, the
  redirect to the path with or without its trailing slash), a mount (`/docs/assets`) or another kind
  of route matching first, the lifespan, websockets, and routes added after the index was built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
    _get_fastapi_scope,
    _IncludedRouter,
    _route_selected,
    _update_scope,
)
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from gateway.route_index import Buckets


@dataclass(frozen=True)
class _Candidate:
    route: BaseRoute  # the original route (an APIRoute for the fast path)
    chain: tuple[_IncludedRouter, ...]  # the included routers it is reached through, outermost first
    context: _EffectiveRouteContext | None  # its effective context in the innermost included router
    regex: Any  # compiled path pattern, a cheap pre-check before FastAPI's own `matches`; None: always ask
    fast: bool  # a FastAPI route this module dispatches itself; else a FULL match defers to FastAPI


def _candidates(routes: list[BaseRoute]) -> list[tuple[str | None, _Candidate]]:
    """Every route of the app, flattened in FastAPI's matching order, with its template."""
    found: list[tuple[str | None, _Candidate]] = []

    def add_included(included: _IncludedRouter, chain: tuple[_IncludedRouter, ...]) -> None:
        for candidate in included.effective_candidates():
            if isinstance(candidate, _IncludedRouter):
                add_included(candidate, (*chain, candidate))
                continue
            original = candidate.original_route
            fast = isinstance(original, APIRoute)
            pattern = candidate if fast else (candidate.starlette_route or original)
            regex = getattr(pattern, "path_regex", None)
            template = getattr(pattern, "path_format", None) if regex is not None else None
            found.append((template, _Candidate(original, chain, candidate, regex, fast)))

    for route in routes:
        if isinstance(route, _IncludedRouter):
            add_included(route, (route,))
            continue
        regex = getattr(route, "path_regex", None)
        template = getattr(route, "path_format", None) if regex is not None else None
        found.append((template, _Candidate(route, (), None, regex, isinstance(route, APIRoute))))
    return found


class IndexedDispatch:
    """The router's ASGI entry: FastAPI's full-match dispatch through the index, the rest as before."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._built_for: int | None = None
        self._buckets: Buckets[_Candidate] = Buckets(())

    def _index(self) -> Buckets[_Candidate]:
        # an include_router/add_api_route on the app bumps its routes' version: build again
        version = self.router._routes_version
        if version != self._built_for:
            self._buckets = Buckets(_candidates(list(self.router.routes)))
            self._built_for = version
        return self._buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router.app(scope, receive, send)
            return
        route_path = get_route_path(scope)
        for candidate in self._index().candidates(route_path):
            if candidate.regex is not None and candidate.regex.match(route_path) is None:
                continue  # FastAPI's match would say NONE: a route's match needs its regex
            if not candidate.fast:
                break  # a mount or another kind of route may match first: FastAPI decides
            match, child_scope = self._match(candidate, scope)
            if match is Match.FULL:
                await self._handle(candidate, child_scope, scope, receive, send)
                return
        await self.router.app(scope, receive, send)

    @staticmethod
    def _match(candidate: _Candidate, scope: Scope) -> tuple[Match, Scope]:
        """FastAPI's own answer for this route (`APIRoute.matches` in its effective context)."""
        route = candidate.route
        context = candidate.context
        if context is None:
            return route.matches(scope)
        match, child_scope = context.matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = route
        return match, child_scope

    async def _handle(
        self, candidate: _Candidate, child_scope: Scope, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """What APIRouter.app, _IncludedRouter.handle and _handle_selected do for a FULL match."""
        router = self.router
        _apply_router_form_limits(scope, router.form_limits)
        if "router" not in scope:
            scope["router"] = router
        route = candidate.route
        context = candidate.context
        if context is None:  # a route of the app's own router
            _update_scope(scope, child_scope)
            _route_selected(scope=scope, path=getattr(route, "path_format", None), mount=False)
            await route.handle(scope, receive, send)
            return
        fastapi_scope = _get_fastapi_scope(scope)
        for included in candidate.chain:
            # the outer router's loop selects it (no path of its own), its handle marks the scope
            _route_selected(scope=scope, path=None, mount=False)
            _apply_router_form_limits(scope, included.include_context.form_limits)
            fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = included
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=context.path_format, mount=False)
        fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        scope["route"] = route
        await route.handle(scope, receive, send)


def dispatch_through_index(router: APIRouter) -> None:
    """Route `router`'s requests through the index (once; a router with middleware of its own is left)."""
    if isinstance(router.middleware_stack, IndexedDispatch):
        return
    if router.middleware_stack != router.app:
        return  # Router(middleware=...) or a body limit wraps its app: keep FastAPI's path whole
    router.middleware_stack = IndexedDispatch(router)
