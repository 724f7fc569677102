"""The gateway's OpenAPI document, and the partner-only document cut from it.

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
from gateway.problems import PROBLEM_JSON, ProblemDocument

PROBLEM_SCHEMA = "Problem"
IDEMPOTENCY_HEADER = "idempotency-key"
# The edge answers these on any route (gateway.middleware): uncredentialed callers are rate limited by
# address (health checks aside), and oversized header sets are refused.
UNLIMITED_PATHS = ("/healthz", "/readyz")
EDGE_STATUSES = frozenset({431})
PUBLIC_RATE_LIMIT = 429
BODY_STATUSES = frozenset({413, 415, 422})
PARAMETER_STATUSES = frozenset({422})
IDEMPOTENCY_STATUSES = frozenset({409, 422})

# tag, the path prefixes that route to it, what the tag describes
CALLERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "apps",
        ("/v1/apps/",),
        "Sibling bank apps, on behalf of a signed-in customer: `Authorization: Bearer <access token>` "
        "issued by `POST /v1/apps/{app_id}/token` (audience = the app). Routes act on the token's "
        "customer, never on an id taken from the path or the body.",
    ),
    (
        "partner",
        ("/v1/partner/",),
        "Partner platforms: every request is signed with HMAC-SHA256 over the exact request "
        "(the five `X-Lattice-*` headers, see docs/partner-signing.md). The partner-only description is "
        "at `/v1/partner/openapi.json`.",
    ),
    (
        "ops",
        ("/v1/ops/",),
        "Bank operations staff: `Authorization: Bearer <operator token>` from `POST /v1/ops/token` "
        "(OAuth 2.0 client credentials). The token carries a role and a scope (head office or one branch).",
    ),
    (
        "core banking",
        ("/v1/core/",),
        "The bank's core banking system: milestones signed with its own HMAC key (`X-Lattice-System`).",
    ),
    (
        "providers",
        ("/v1/providers/",),
        "Messaging providers (SMS, push, partner channels): delivery receipts signed as Standard Webhooks.",
    ),
    ("public", ("/r/",), "Campaign links that customers' browsers follow; no credentials."),
    (
        "system",
        ("/",),
        "Health, readiness and the public token keys (JWKS); no credentials.",
    ),
)
PARTNER_TAG = "partner"
AREA_EXTENSION = "x-lattice-area"

_SIGNATURE_HEADERS = {
    "partner_id": ("X-Lattice-Partner", "The partner id, e.g. `ride`."),
    "partner_key_id": ("X-Lattice-Key-Id", "The id of the signing key head office issued to the partner."),
    "partner_timestamp": ("X-Lattice-Timestamp", "Unix time in seconds when signed (within 300 s)."),
    "partner_nonce": ("X-Lattice-Nonce", "16-64 characters `A-Z a-z 0-9 _ -`, never reused."),
    "partner_signature": (
        "X-Lattice-Signature",
        "Base64 HMAC-SHA256 of the canonical request (method, path, canonical query, timestamp, nonce, "
        "partner id, key id, body SHA-256) with the decoded secret; see docs/partner-signing.md.",
    ),
    "core_system": ("X-Lattice-System", "The core banking system's id."),
    "core_key_id": ("X-Lattice-Key-Id", "The id of the core system's signing key."),
    "core_timestamp": ("X-Lattice-Timestamp", "Unix time in seconds when signed."),
    "core_nonce": ("X-Lattice-Nonce", "A one-time value, never reused."),
    "core_signature": (
        "X-Lattice-Signature",
        "Base64 HMAC-SHA256 of the canonical request (tools/core_banking_client.py).",
    ),
    "webhook_id": ("webhook-id", "Standard Webhooks message id, unique per receipt batch."),
    "webhook_timestamp": ("webhook-timestamp", "Standard Webhooks timestamp (Unix seconds)."),
    "webhook_signature": (
        "webhook-signature",
        "Standard Webhooks signature (`v1,<base64 HMAC-SHA256>`) with the channel's provider secret.",
    ),
}
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "app_token": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A customer's access token from `POST /v1/apps/{app_id}/token` (audience = the app).",
    },
    "operator_token": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An operator token from `POST /v1/ops/token` (audience `lattice-ops`, 15 minutes).",
    },
    "operator_oauth2": {
        "type": "oauth2",
        "description": "OAuth 2.0 client credentials of a member of staff (client id = operator id).",
        "flows": {"clientCredentials": {"tokenUrl": "/v1/ops/token", "scopes": {}}},
    },
    **{
        name: {"type": "apiKey", "in": "header", "name": header, "description": text}
        for name, (header, text) in _SIGNATURE_HEADERS.items()
    },
}

# status: (component name, what the caller learns from it)
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    401: (
        "Unauthorized",
        "Credentials missing, malformed, expired or revoked, or a signature that does not match the "
        "request; `code` says which (e.g. `token_expired`, `signature_invalid`).",
    ),
    403: (
        "Forbidden",
        "The caller is known but may not do this: role, branch scope, another app's token, a partner "
        "scope, or four eyes (`own_work`).",
    ),
    404: ("NotFound", "No such object in the caller's reach (another branch's or customer's is not found)."),
    409: (
        "Conflict",
        "The object's state does not allow this now, it exists already, or a request with the same "
        "`Idempotency-Key` is still running (`idempotency_in_flight`, `Retry-After`).",
    ),
    413: ("ContentTooLarge", "The body is larger than the gateway's limit (`body_too_large`)."),
    415: ("UnsupportedMediaType", "The body is not JSON (`unsupported_media_type`)."),
    422: (
        "UnprocessableContent",
        "The request is not valid: `validation_failed` lists each field in `errors`; or a service "
        "refused the values; or an `Idempotency-Key` was reused with another body. Nothing was written.",
    ),
    429: (
        "TooManyRequests",
        "Over the caller's quota (`rate_limited`: `Retry-After` and `RateLimit-*` headers), or locked "
        "out after repeated authentication failures (`authentication_locked`).",
    ),
    431: ("RequestHeaderFieldsTooLarge", "Too many request headers, or too large (`headers_too_large`)."),
    503: ("ServiceUnavailable", "A service the request needs is unavailable; retry after `Retry-After`."),
    504: ("GatewayTimeout", "A service did not answer within the request's deadline."),
}


def caller_tag(path: str) -> str:
    """The kind of caller a path serves (the longest matching prefix)."""
    matches = [
        (prefix, tag) for tag, prefixes, _ in CALLERS for prefix in prefixes if path.startswith(prefix)
    ]
    return max(matches, key=lambda match: len(match[0]))[1]


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


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def partner_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Only the partner-facing operations, with just the schemas, responses and schemes they use."""
    paths = {
        path: item
        for path, item in document["paths"].items()
        if all(PARTNER_TAG in operation.get("tags", ()) for operation in item.values())
    }
    partner = {
        "openapi": document["openapi"],
        "info": {
            "title": f"{document['info']['title']}: partner platforms",
            "version": document["info"]["version"],
            "description": "The routes a partner platform calls. Every request is signed (HMAC-SHA256 over "
            "the exact request, five `X-Lattice-*` headers): see the bank's partner signing guide. Errors "
            "are RFC 9457 problems (`application/problem+json`) with a stable `code`.",
        },
        "paths": copy.deepcopy(paths),
        "tags": [tag for tag in document["tags"] if tag["name"] == PARTNER_TAG],
    }
    components = document["components"]
    kept: dict[str, dict[str, Any]] = {"schemas": {}, "responses": {}}
    pending = list(_references(partner["paths"]))
    while pending:
        _, _, kind, name = pending.pop().split("/", 3)
        if name in kept[kind]:
            continue
        kept[kind][name] = copy.deepcopy(components[kind][name])
        pending.extend(_references(kept[kind][name]))
    schemes = {
        scheme
        for item in paths.values()
        for operation in item.values()
        for requirement in operation.get("security", ())
        for scheme in requirement
    }
    partner["components"] = {
        "schemas": dict(sorted(kept["schemas"].items())),
        "responses": dict(sorted(kept["responses"].items())),
        "securitySchemes": {
            name: copy.deepcopy(components["securitySchemes"][name]) for name in sorted(schemes)
        },
    }
    return partner


def install_openapi(app: FastAPI) -> None:
    """Serve `build_openapi` at the app's `openapi_url` (built once: routes do not change after start)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the OpenAPI generator
