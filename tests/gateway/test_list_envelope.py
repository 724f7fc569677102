"""Lists answer one envelope, `{items, next_page_token}`: no route answers a bare JSON array."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.app import create_app
from tests.support.actors import operator_headers

# every list answers the envelope; a route answering a bare array fails the guard below
BARE_ARRAYS_TO_MIGRATE: set[str] = set()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _lists(spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(routes answering a bare array, routes answering an envelope) among the GETs."""
    bare, enveloped = set(), set()
    for path, operations in spec["paths"].items():
        ok = (operations.get("get") or {}).get("responses", {}).get("200", {})
        schema = _resolve(spec, ok.get("content", {}).get("application/json", {}).get("schema", {}))
        if schema.get("type") == "array":
            bare.add(path)
        elif "items" in schema.get("properties", {}) and "next_page_token" in schema.get("properties", {}):
            enveloped.add(path)
    return bare, enveloped


def test_no_new_route_answers_a_bare_array() -> None:
    bare, enveloped = _lists(create_app().openapi())
    assert bare - BARE_ARRAYS_TO_MIGRATE == set(), "answer {items, next_page_token} instead"
    assert BARE_ARRAYS_TO_MIGRATE - bare == set(), "moved to the envelope: take it off the list"
    assert "/v1/ops/benefits" in enveloped and len(enveloped) >= 5


def test_the_benefits_catalogue_pages_with_the_envelope(gateway: httpx.Client) -> None:
    page = gateway.get("/v1/ops/benefits", headers=operator_headers(gateway, "hq-viewer")).json()
    assert set(page) == {"items", "next_page_token"}
    assert page["items"] and all("benefit_id" in b for b in page["items"])
