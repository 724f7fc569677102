"""The gateway's OpenAPI document (the partner-only one is cut from it in gateway.openapi_partner).

FastAPI describes paths, parameters and bodies; this module adds what it cannot know:

- the callers: one tag per kind of caller, from the path prefix that routes it (Kong routes by the same
  prefixes), and the security schemes each route's authentication dependency checks; the router's own
  tag (the service or area that answers: `identity`, `benefits`...) stays as `x-lattice-area`;
- the errors: every route documents, with the one problem schema (`application/problem+json`, RFC 9457),
  each status its mechanism can answer: its dependencies (marked with `gateway.openapi_marks.documents`:
  authentication => 401/403/429, the services' gRPC errors => `HTTP_BY_GRPC`), its `Idempotency-Key`
  (409/422), its body (413/415/422), its parameters (422) and the edge in front of every route (429 for
  callers without credentials, 431). FastAPI's `HTTPValidationError` is replaced, since the gateway
  never sends it;
- an example on every request body, taken from the body model's `examples`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi

from gateway.openapi_marks import documented
from gateway.openapi_terms import CALLERS, ERROR_RESPONSES, SECURITY_SCHEMES, caller_tag
from gateway.problems import PROBLEM_JSON, ProblemDocument

PROBLEM_SCHEMA = "Problem"
# the router's own tag (the service or area that answers), kept beside the caller tag
AREA_EXTENSION = "x-lattice-area"
IDEMPOTENCY_HEADER = "idempotency-key"
# The edge answers these on any route (gateway.middleware): uncredentialed callers are rate limited by
# address (health checks aside), and oversized header sets are refused.
UNLIMITED_PATHS = ("/healthz", "/readyz")
EDGE_STATUSES = frozenset({431})
PUBLIC_RATE_LIMIT = 429
BODY_STATUSES = frozenset({413, 415, 422})
PARAMETER_STATUSES = frozenset({422})
IDEMPOTENCY_STATUSES = frozenset({409, 422})


def _dependency_calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def _header_names(dependant: Any) -> Iterator[str]:
    for param in dependant.header_params:
        yield (param.alias or param.name).lower()
    for sub in dependant.dependencies:
        yield from _header_names(sub)


def _has_parameters(dependant: Any) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params:
        return True
    return any(_has_parameters(sub) for sub in dependant.dependencies)


def route_mechanism(route: Any) -> tuple[set[int], list[dict[str, list[str]]]]:
    """The problem statuses a route can answer and its security requirements, from what it depends on."""
    statuses = set(EDGE_STATUSES)
    if route.path_format not in UNLIMITED_PATHS:
        statuses.add(PUBLIC_RATE_LIMIT)
    security: list[dict[str, list[str]]] = []
    for call in _dependency_calls(route.dependant):
        mark = documented(call)
        if mark is None:
            continue
        statuses |= mark.statuses
        for alternative in mark.security:
            requirement: dict[str, list[str]] = {scheme: [] for scheme in alternative}
            if requirement not in security:
                security.append(requirement)
    if IDEMPOTENCY_HEADER in set(_header_names(route.dependant)):
        statuses |= IDEMPOTENCY_STATUSES
    if route.body_field is not None:
        statuses |= BODY_STATUSES
    if _has_parameters(route.dependant):
        statuses |= PARAMETER_STATUSES
    # statuses a route raises itself, declared on its decorator (`responses={404: {...}}`)
    statuses |= {int(code) for code in route.responses if str(code).isdigit() and int(code) >= 400}
    return statuses, security


def documented_routes(app: FastAPI) -> Iterator[Any]:
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, routing.APIRoute) and context.include_in_schema:
            yield context


def _problem_schemas() -> dict[str, dict[str, Any]]:
    """The problem schema and the schemas it refers to (e.g. a validation error's fields)."""
    schema = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["title"] = "Problem"
    return {**schema.pop("$defs", {}), PROBLEM_SCHEMA: schema}


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _add_body_examples(document: dict[str, Any], operation: dict[str, Any]) -> None:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "example" in media or "examples" in media:
            continue
        schema = _resolve(document, media.get("schema", {}))
        if schema.get("examples"):
            media["example"] = schema["examples"][0]
        else:
            for option in schema.get("anyOf", []):  # an optional body: `Model | None`
                examples = _resolve(document, option).get("examples")
                if examples:
                    media["example"] = examples[0]
                    break


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The whole API's description (what `/openapi.json` serves)."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        servers=app.servers,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(_problem_schemas())
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    components["responses"] = {
        name: {
            "description": text,
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}}},
        }
        for name, text in ERROR_RESPONSES.values()
    }
    document["tags"] = [{"name": tag, "description": text} for tag, _, text in CALLERS]
    for route in documented_routes(app):
        statuses, security = route_mechanism(route)
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            if "requestBody" in operation:  # a model, or a body the route reads itself (`openapi_extra`)
                statuses |= BODY_STATUSES
            if operation.get("tags"):  # the router's own tag: the service or area that answers
                operation[AREA_EXTENSION] = operation["tags"][0]
            operation["tags"] = [caller_tag(route.path_format)]
            if security:
                operation["security"] = security
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                declared = responses.get(str(status), {})
                if "content" in declared and status != 422:
                    continue  # the route describes a body of its own for this status
                if status in ERROR_RESPONSES:
                    responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
                else:
                    responses[str(status)] = {
                        "description": declared.get("description", "Error"),
                        "content": {
                            PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}}
                        },
                    }
            _add_body_examples(document, operation)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve `build_openapi` at the app's `openapi_url` (built once: routes do not change after start)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the OpenAPI generator
