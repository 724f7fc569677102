"""415 for a body that is not JSON: every route reads JSON, except those that declare a form.

A route takes `application/x-www-form-urlencoded` (OAuth 2.0 token endpoints) when it has `Form(...)`
parameters or declares that media type in its `openapi_extra` request body; every other route with a
body answers `415 unsupported_media_type` to anything but `application/json` / `application/*+json`.
The check runs only for a body that is not JSON, so JSON requests pay one header comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.dependencies.models import Dependant
from fastapi.params import Form
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path
from starlette.types import Scope

FORM = "application/x-www-form-urlencoded"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: bytes) -> bool:
    essence = content_type.split(b";", 1)[0].strip().lower()
    return essence == b"application/json" or (
        essence.startswith(b"application/") and essence.endswith(b"+json")
    )


def has_body(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    if scope.get("method") not in _BODY_METHODS:
        return False
    length = headers.get(b"content-length")
    return (length is not None and length != b"0") or b"transfer-encoding" in headers


def refuses(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
    """The 415 detail for a request whose non-JSON body its route does not take, else None."""
    content_type = headers.get(b"content-type", b"")
    if not has_body(scope, headers) or is_json(content_type):
        return None
    route = _route_of(scope)
    if route is None:
        return None  # no such route: the router answers 404 / 405
    essence = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    if essence == FORM and route.form:
        return None
    allowed = "application/json or application/x-www-form-urlencoded" if route.form else "application/json"
    return f"the body must be {allowed}, not {essence or 'a body without Content-Type'}"


@dataclass(frozen=True)
class BodyRoute:
    """One route of the app as the media check sees it."""

    path: str
    methods: frozenset[str]
    regex: re.Pattern[str]
    form: bool


def body_routes(app: object) -> list[BodyRoute]:
    """Every API route that takes a body method, with whether it takes a form (cached on the app)."""
    state = getattr(app, "state", None)
    cached = getattr(state, "body_routes", None)
    if cached is not None:
        return cached
    found = []
    for context in iter_route_contexts(getattr(app, "routes", [])):
        route = context.original_route
        methods = frozenset(context.methods or ()) & _BODY_METHODS
        if isinstance(route, APIRoute) and methods and context.path:
            regex, _, _ = compile_path(context.path)
            found.append(BodyRoute(context.path, methods, regex, takes_form(route)))
    if state is not None:
        state.body_routes = found
    return found


def _route_of(scope: Scope) -> BodyRoute | None:
    path, method = scope.get("path", ""), scope.get("method")
    for route in body_routes(scope.get("app")):
        if method in route.methods and route.regex.match(path):
            return route
    return None


def takes_form(route: APIRoute) -> bool:
    content = ((route.openapi_extra or {}).get("requestBody") or {}).get("content") or {}
    return FORM in content or _has_form_params(route.dependant)


def _has_form_params(dependant: Dependant) -> bool:
    if any(isinstance(field.field_info, Form) for field in dependant.body_params):
        return True
    return any(_has_form_params(sub) for sub in dependant.dependencies)
