"""The app's routes flattened once, matched by their static prefix: one lookup per request.

The server span's name (`GET /r/{code}`) and the personal-data guard's path parameters are both
known before FastAPI routes the request. Walking every route context and trying each regex (what
OpenTelemetry's FastAPI instrumentation and a plain loop do) cost about a millisecond of CPU per
request with ~150 routes; here the routes are bucketed by the literal first two segments of their
templates (`/v1/apps/...`) and only the path's bucket tries its regexes, in FastAPI's order. The
first route the path and method fit wins, else the last one the path fits (405), as FastAPI decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from opentelemetry.util.http import sanitize_method
from starlette.routing import BaseRoute
from starlette.types import Scope

T = TypeVar("T")
SCOPE_KEY = "lattice.route"  # the request's RouteMatch, kept in its scope


@dataclass(frozen=True)
class RouteMatch:
    template: str  # `/v1/apps/{app_id}/wallet`; a mount's own path
    params: dict[str, str]  # the raw path parameters as sent


@dataclass(frozen=True)
class _Entry:
    regex: re.Pattern[str]
    template: str
    methods: frozenset[str] | None


def _head(path: str) -> tuple[str, str | None]:
    """A path's first two segments (`/v1/apps/...` -> ("v1", "apps")); None for a missing second."""
    parts = path.split("/", 3)
    return parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else None


class Buckets(Generic[T]):
    """Items keyed by route templates, in their order, bucketed by the templates' literal first two
    segments: `candidates(path)` holds every item whose template could match `path`, in order."""

    def __init__(self, keyed: Iterable[tuple[str | None, T]]) -> None:
        # (first, second) -> items; a parameter (or nothing) in a place stands for any segment there.
        # A template of None (a route without a path pattern) may match any path.
        heads: list[tuple[str | None, str | None, T]] = []
        for path_format, item in keyed:
            if path_format is None:
                heads.append((None, None, item))
                continue
            first, second = _head(path_format)
            literal_first = bool(first) and "{" not in first
            literal_second = literal_first and bool(second) and "{" not in (second or "")
            heads.append((first if literal_first else None, second if literal_second else None, item))
        self._anywhere = tuple(e for f, _, e in heads if f is None)
        self._by_first = {
            first: tuple(e for f, s, e in heads if f is None or (f == first and s is None))
            for first, _, _ in heads
            if first is not None
        }
        self._by_both = {
            (first, second): tuple(
                e for f, s, e in heads if f is None or (f == first and s in (None, second))
            )
            for first, second, _ in heads
            if first is not None and second is not None
        }

    def candidates(self, path: str) -> tuple[T, ...]:
        first, second = _head(path)
        found = self._by_both.get((first, second or ""))
        if found is None:
            found = self._by_first.get(first, self._anywhere)
        return found


class RouteIndex:
    """Routes in FastAPI's order, bucketed by the literal first two segments of their templates."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        keyed: list[tuple[str | None, _Entry]] = []
        for context in iter_route_contexts(list(routes)):
            regex = getattr(context, "path_regex", None)
            path_format = getattr(context, "path_format", None)
            if regex is None or path_format is None:
                continue
            methods = getattr(context, "methods", None)
            entry = _Entry(
                regex=regex,
                template=getattr(context, "path", None) or path_format,
                methods=frozenset(methods) if methods else None,
            )
            keyed.append((path_format, entry))
        self._buckets = Buckets(keyed)

    def match(self, path: str, method: str) -> RouteMatch | None:
        partial: RouteMatch | None = None
        for entry in self._buckets.candidates(path):
            found = entry.regex.match(path)
            if found is None:
                continue
            matched = RouteMatch(entry.template, found.groupdict())
            if entry.methods is None or method in entry.methods:
                return matched
            partial = matched
        return partial


def index_routes(app: FastAPI) -> RouteIndex:
    """Index the app's routes (all included): at start-up, which also warms FastAPI's own route contexts."""
    index = app.state.route_index = RouteIndex(app.routes)
    return index


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
        index = index_routes(app)  # an app started without its lifespan
    found = scope[SCOPE_KEY] = index.match(scope.get("path", ""), scope.get("method", ""))
    return found


def span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """The server span's name and `http.route` (as OpenTelemetry's FastAPI instrumentation names them)."""
    method = sanitize_method(scope.get("method", "").strip())
    if method == "_OTHER":
        method = "HTTP"
    route = route_of(scope)
    if route is None:
        return method, {}
    return f"{method} {route.template}", {"http.route": route.template}
