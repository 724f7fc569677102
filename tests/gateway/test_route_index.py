"""The gateway names each request's span and finds its path parameters from a route index built
once: the same answers OpenTelemetry's FastAPI instrumentation gave by walking every route."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import _get_default_span_details

from gateway.app import create_app
from gateway.route_index import RouteIndex, route_of, span_details
from gateway.server_telemetry import ServerTelemetry

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "BREW")


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


def _paths(app: FastAPI) -> set[str]:
    """A concrete path for every route, one that runs past its end, and a few no route takes."""
    paths = {"/", "/nope", "/r/", "/v1/apps//wallet", "/v1/ops", "/docs/extra"}
    for context in iter_route_contexts(app.routes):
        template = context.path_format or ""
        paths.add(re.sub(r"\{[^}]+\}", "abc_1", template))
        paths.add(re.sub(r"\{[^}]+\}", "x", template) + "/more")
    return paths


def test_every_path_and_method_is_named_as_the_instrumentation_named_it(app: FastAPI) -> None:
    paths = _paths(app)
    assert len(paths) > 200
    for path in paths:
        for method in METHODS:
            scope = {"type": "http", "path": path, "method": method, "app": app, "root_path": ""}
            assert span_details(dict(scope)) == _get_default_span_details(dict(scope)), (method, path)


def test_the_match_carries_the_raw_path_parameters_and_is_kept_in_the_scope(app: FastAPI) -> None:
    scope = {"type": "http", "path": "/v1/apps/wallet/redemptions/r-1", "method": "GET", "app": app}
    found = route_of(scope)
    assert found is not None and found.template == "/v1/apps/{app_id}/redemptions/{redemption_id}"
    assert found.params == {"app_id": "wallet", "redemption_id": "r-1"}
    assert route_of(scope) is found  # matched once per request
    assert route_of({"type": "http", "path": "/nowhere", "method": "GET", "app": app}) is None


def test_a_path_of_another_method_answers_the_last_route_it_fits() -> None:
    app = FastAPI()
    app.get("/items/{item_id}")(lambda item_id: item_id)
    app.put("/items/{item_id}")(lambda item_id: item_id)
    app.get("/items/special")(lambda: None)
    index = RouteIndex(app.routes)
    assert index.match("/items/special", "GET").template == "/items/{item_id}"  # first fit wins
    assert index.match("/items/1", "PUT").template == "/items/{item_id}"
    assert index.match("/items/special", "DELETE").template == "/items/special"  # 405: last fit


def test_the_tracing_middleware_names_spans_from_the_index(app: FastAPI) -> None:
    layer, found = app.build_middleware_stack(), []
    while layer is not None:
        if isinstance(layer, ServerTelemetry):
            found.append(layer)
        assert not isinstance(layer, OpenTelemetryMiddleware)  # no second tracer: one span per request
        layer = getattr(layer, "app", None)
    assert len(found) == 1 and found[0].name_span is span_details
