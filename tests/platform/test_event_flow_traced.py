"""One request through the gateway reaches a service over gRPC, commits a change and its event
through the outbox, and a second service consumes it — all in one trace, collected over OTLP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.actors import operator_headers
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.system import running_system
from tools.stack import Stack

SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER = 2, 3, 4, 5


@pytest.fixture
def traced_stack(tmp_path: Path) -> Iterator[tuple[Stack, OtlpReceiver]]:
    receiver = OtlpReceiver().start()
    try:
        env = {"ENVIRONMENT": "test", **receiver.env()}
        with running_system(tmp_path / "var", extra_env=env) as stack:
            yield stack, receiver
    finally:
        receiver.stop()


def _one(spans: list[ReceivedSpan], **match: object) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one span {match}, found {len(found)}"
    return found[0]


def test_gateway_to_service_to_nats_to_consumer_is_one_trace(
    traced_stack: tuple[Stack, OtlpReceiver],
) -> None:
    stack, receiver = traced_stack
    with httpx.Client(base_url=stack.config.gateway_url, timeout=10) as gw:
        headers = operator_headers(gw, "hq-admin")
        resp = gw.post(
            "/v1/ops/partners",
            json={"partner_id": "shop", "name": "Shop Mini-Program", "sector": "ecommerce"},
            headers=headers,
        )
        assert resp.status_code == 201, resp.text
        deadline = time.monotonic() + 15
        while gw.get("/v1/ops/conversion/partners/shop", headers=headers).status_code != 200:
            assert time.monotonic() < deadline, "conversion never consumed identity.partner.registered"
            time.sleep(0.2)

    subject = "identity.partner.registered"

    wanted = [
        ("gateway", SPAN_KIND_SERVER, "POST /v1/ops/partners"),
        ("gateway", SPAN_KIND_CLIENT, "/RegisterPartner"),
        ("identity", SPAN_KIND_SERVER, "/RegisterPartner"),
        ("identity", SPAN_KIND_PRODUCER, f"{subject} publish"),
        ("conversion", SPAN_KIND_CONSUMER, f"{subject} process"),
    ]

    def complete(spans: list[ReceivedSpan]) -> bool:
        edges = [s for s in spans if s.service == "gateway" and s.name == "POST /v1/ops/partners"]
        in_trace = [s for s in spans if edges and s.trace_id == edges[0].trace_id]
        # conversion has two consumers of this subject; wait for the partner projection's own span
        projected = any(
            s.attributes.get("messaging.consumer.group.name") == "conversion-partners" for s in in_trace
        )
        return projected and all(
            any(s.service == svc and s.kind == kind and s.name.endswith(name) for s in in_trace)
            for svc, kind, name in wanted
        )

    spans = receiver.wait_for(complete)
    edge = _one(spans, service="gateway", kind=SPAN_KIND_SERVER, name="POST /v1/ops/partners")
    trace = [s for s in spans if s.trace_id == edge.trace_id]
    by_id = {s.span_id: s for s in trace}

    rpc_server = _one(trace, service="identity", kind=SPAN_KIND_SERVER)
    assert rpc_server.name.endswith("RegistryService/RegisterPartner")
    rpc_client = by_id[rpc_server.parent_span_id]
    assert rpc_client.service == "gateway" and rpc_client.kind == SPAN_KIND_CLIENT

    publish = _one(trace, service="identity", name=f"{subject} publish", kind=SPAN_KIND_PRODUCER)
    processes = [s for s in trace if s.name == f"{subject} process" and s.kind == SPAN_KIND_CONSUMER]
    process = next(
        s for s in processes if s.attributes["messaging.consumer.group.name"] == "conversion-partners"
    )
    assert process.service == "conversion"
    assert process.parent_span_id == publish.span_id
    assert process.attributes["messaging.nats.jetstream.delivery_count"] == 1
    assert process.attributes["lattice.event_id"] == publish.attributes["lattice.event_id"]

    # every span of the journey climbs up to the gateway's server span
    for span in (rpc_client, rpc_server, publish, process):
        node = span
        while node.parent_span_id:
            node = by_id[node.parent_span_id]
        assert node.span_id == edge.span_id, f"{span.service}:{span.name} is not under the gateway span"
