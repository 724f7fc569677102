"""Operators search traces and open one as a waterfall, read from the running system's span files."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tools.actors import operator_headers


def _trace(
    gateway: httpx.Client, headers: dict[str, str], trace_id: str, services: set[str]
) -> dict[str, Any]:
    """The trace once the batch span processors of every named process have written it."""
    deadline = time.monotonic() + 30
    while True:
        reply = gateway.get(f"/v1/ops/traces/{trace_id}", headers=headers)
        if reply.status_code == 200 and services <= set(reply.json()["services"]):
            return reply.json()
        assert time.monotonic() < deadline, reply.text
        time.sleep(0.5)


@pytest.fixture(scope="module")
def viewer(gateway: httpx.Client) -> dict[str, str]:
    return operator_headers(gateway, "hq-viewer")


def test_a_request_shows_as_a_waterfall_across_gateway_and_service(gateway: httpx.Client, viewer) -> None:
    reply = gateway.get("/v1/ops/content/items", headers=viewer)
    assert reply.status_code == 200, reply.text
    trace_id = reply.headers["x-trace-id"]

    trace = _trace(gateway, viewer, trace_id, {"gateway", "content"})
    assert trace["route"] == "/v1/ops/content/items" and trace["http_status"] == 200
    assert not trace["error"]
    spans = trace["spans"]
    assert spans[0]["depth"] == 0 and spans[0]["offset_ms"] == 0
    by_id = {s["span_id"]: s for s in spans}
    content_server = next(s for s in spans if s["service"] == "content" and s["kind"] == "server")
    parent = by_id[content_server["parent_id"]]
    assert parent["service"] == "gateway" and parent["kind"] == "client"
    assert content_server["depth"] > parent["depth"]
    assert content_server["offset_ms"] >= parent["offset_ms"]
    assert all(s["duration_ms"] >= 0 for s in spans)
    # the gateway's part: its server span and the gRPC calls under it, no span per ASGI message
    assert {s["kind"] for s in spans if s["service"] == "gateway"} == {"server", "client"}
    for span in spans:  # no targets, queries or other free text: only the allowed attributes
        assert set(span["attributes"]) <= {
            "http.method",
            "http.route",
            "http.status_code",
            "rpc.system",
            "rpc.service",
            "rpc.method",
            "rpc.grpc.status_code",
            "messaging.system",
            "messaging.operation",
            "messaging.destination.name",
            "lattice.reason",
        }

    found = gateway.get(
        "/v1/ops/traces",
        params={"route": "content/items", "service": "content", "status": "ok"},
        headers=viewer,
    ).json()["traces"]
    assert trace_id in [t["trace_id"] for t in found]
    none = gateway.get(
        "/v1/ops/traces", params={"service": "reach", "route": "/v1/ops/content/items"}, headers=viewer
    )
    assert trace_id not in [t["trace_id"] for t in none.json()["traces"]]


def test_errors_are_found_by_status_and_time(gateway: httpx.Client, viewer) -> None:
    since = time.time()
    missing = gateway.get("/v1/ops/content/items/no-such-item", headers=viewer)
    assert missing.status_code == 404
    trace_id = missing.headers["x-trace-id"]
    _trace(gateway, viewer, trace_id, {"gateway"})
    from datetime import UTC, datetime

    params = {"status": "404", "since": datetime.fromtimestamp(since - 1, tz=UTC).isoformat()}
    found = gateway.get("/v1/ops/traces", params=params, headers=viewer).json()["traces"]
    assert trace_id in [t["trace_id"] for t in found]
    assert all(t["http_status"] == 404 for t in found)
    later = datetime.fromtimestamp(time.time() + 3600, tz=UTC).isoformat()
    assert gateway.get("/v1/ops/traces", params={"since": later}, headers=viewer).json()["traces"] == []


def test_pages_are_newest_first_and_do_not_overlap(gateway: httpx.Client, viewer) -> None:
    for _ in range(3):
        gateway.get("/v1/ops/content/items", headers=viewer)
    first = gateway.get("/v1/ops/traces", params={"limit": 2}, headers=viewer).json()
    assert len(first["traces"]) == 2 and first["next_page_token"]
    second = gateway.get(
        "/v1/ops/traces", params={"limit": 2, "page_token": first["next_page_token"]}, headers=viewer
    ).json()
    ids = [t["trace_id"] for t in first["traces"] + second["traces"]]
    assert len(set(ids)) == len(ids)
    starts = [t["started_at"] for t in first["traces"] + second["traces"]]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/ops/traces/not-hex", {}),
        ("/v1/ops/traces/" + "A" * 32, {}),
        ("/v1/ops/traces", {"status": "failed"}),
        ("/v1/ops/traces", {"since": "yesterday"}),
        ("/v1/ops/traces", {"since": "2026-01-01T00:00:00"}),  # no offset: ambiguous
        ("/v1/ops/traces", {"limit": "0"}),
        ("/v1/ops/traces", {"limit": "201"}),
        ("/v1/ops/traces", {"service": "Content!"}),
        ("/v1/ops/traces", {"route": "<script>"}),
        ("/v1/ops/traces", {"page_token": "abc"}),
    ],
)
def test_bad_input_is_a_422_problem(gateway: httpx.Client, viewer, path: str, params: dict[str, str]) -> None:
    reply = gateway.get(path, params=params, headers=viewer)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")


def test_unknown_trace_is_404_and_anonymous_is_401(gateway: httpx.Client, viewer) -> None:
    reply = gateway.get("/v1/ops/traces/" + "0" * 32, headers=viewer)
    assert reply.status_code == 404 and reply.json()["code"] == "trace_not_found"
    assert gateway.get("/v1/ops/traces").status_code == 401
    assert gateway.get("/v1/ops/traces/" + "0" * 32).status_code == 401
