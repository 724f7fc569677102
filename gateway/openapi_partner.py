"""The partner-only description (`/v1/partner/openapi.json`), cut from the whole API's."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from gateway.openapi_terms import PARTNER_TAG


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
