"""The app's routes flattened once, matched by their static prefix: one lookup per request.

The server span's name (`GET /r/{code}`) and the personal-data guard's path parameters are both
known before FastAPI routes the request. Walking every route context and trying each regex (what
OpenTelemetry's FastAPI instrumentation and a plain loop do) cost about a millisecond of CPU per
request with ~150 routes; here each route's literal prefix (the template up to its first
parameter) is compared first and only the few routes it fits try their regex. The first route the
path and method fit wins, else the last one the path fits (405), as FastAPI decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.util.http import sanitize_method
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Scope

SCOPE_KEY = "lattice.route"  # the request's RouteMatch, kept in its scope


@dataclass(frozen=True)
class RouteMatch:
    template: str  # `/v1/apps/{app_id}/wallet`; a mount's own path
    params: dict[str, str]  # the raw path parameters as sent


@dataclass(frozen=True)
class _Entry:
    prefix: str
    regex: re.Pattern[str]
    template: str
    methods: frozenset[str] | None


class RouteIndex:
    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        entries = []
        for context in iter_route_contexts(list(routes)):
            regex = getattr(context, "path_regex", None)
            path_format = getattr(context, "path_format", None)
            if regex is None or path_format is None:
                continue
            methods = getattr(context, "methods", None)
            entries.append(
                _Entry(
                    prefix=path_format.partition("{")[0],
                    regex=regex,
                    template=getattr(context, "path", None) or path_format,
                    methods=frozenset(methods) if methods else None,
                )
            )
        self._entries = tuple(entries)

    def match(self, path: str, method: str) -> RouteMatch | None:
        partial: RouteMatch | None = None
        for entry in self._entries:
            if not path.startswith(entry.prefix):
                continue
            found = entry.regex.match(path)
            if found is None:
                continue
            matched = RouteMatch(entry.template, found.groupdict())
            if entry.methods is None or method in entry.methods:
                return matched
            partial = matched
        return partial


def route_of(scope: Scope) -> RouteMatch | None:
    """The route the request's path names (matched once per request), or None."""
    if SCOPE_KEY in scope:
        found: RouteMatch | None = scope[SCOPE_KEY]
        return found
    app: Any = scope.get("app")
    state = getattr(app, "state", None)
    index = getattr(state, "route_index", None)
    if index is None:
        if state is None:
            return None
        # the routes are all included before the first request: built once, at that request
        index = state.route_index = RouteIndex(app.routes)
    found = scope[SCOPE_KEY] = index.match(scope.get("path", ""), scope.get("method", ""))
    return found


def span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """The server span's name and `http.route` (OpenTelemetryMiddleware's `default_span_details`)."""
    method = sanitize_method(scope.get("method", "").strip())
    if method == "_OTHER":
        method = "HTTP"
    route = route_of(scope)
    if route is None:
        return method, {}
    return f"{method} {route.template}", {"http.route": route.template}


def name_server_spans(app: FastAPI) -> None:
    """Let OpenTelemetry's middleware (FastAPIInstrumentor) name its server spans from the index.

    Call after `FastAPIInstrumentor.instrument_app(app)`: the stack it builds is left as it is (spans,
    metrics and exception recording unchanged) but for the function that names each request's span.
    """
    build = app.build_middleware_stack

    def build_with_index() -> ASGIApp:
        stack = build()
        layer: Any = stack
        while layer is not None:
            if isinstance(layer, OpenTelemetryMiddleware):
                layer.default_span_details = span_details
            layer = getattr(layer, "app", None)
        return stack

    app.build_middleware_stack = build_with_index  # type: ignore[method-assign]  # as the instrumentor does: the stack is built at the first request
