"""The journey through the gateway only, as a partner, the customer's apps and operators meet it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import JourneyWorld
from tests.support.otlp import ReceivedSpan
from tools.journey import Journey, JourneyResult, wait_until

ALL_PROCESSES = {"gateway", "identity", "benefits", "content", "reach", "conversion"}


def play(world: JourneyWorld, gateway_urls: list[str] | None = None) -> JourneyResult:
    journey = Journey(
        gateway_urls or [world.stack.config.gateway_url], receiver=world.partner, say=lambda _m: None
    )
    try:
        return journey.play()
    finally:
        journey.close()


@pytest.fixture(scope="module")
def journey(world: JourneyWorld) -> JourneyResult:
    """One journey played for the tests that only read what it left (its steps, logs and postbacks)."""
    return play(world)


def test_partner_click_to_recognised_customer_to_benefit_to_conversion(
    world: JourneyWorld, journey: JourneyResult
) -> None:
    result = journey
    assert result.mbank is not None and result.life is not None
    customer_id = result.mbank.customer_id
    assert result.life.customer_id == customer_id  # one customer in both apps
    # the partner only ever saw the pairwise id
    assert result.pairwise_id and result.pairwise_id != customer_id
    assert all(customer_id not in text for text in result.partner_responses)
    assert all(customer_id not in str(p.body) for p in world.partner.received)
    # one signed postback for the activation, carrying the pairwise id (consent active)
    activations = [
        p for p in world.partner.received if p.body["data"].get("campaign_id") == result.campaign_id
    ]
    assert len({p.webhook_id for p in activations}) == 1
    assert all(p.signature_valid for p in activations)
    assert activations[0].body["data"].get("pairwise_id") == result.pairwise_id
    # the customer sees one wallet in both apps (checked in the step), the funnel counts once
    funnel = [s for s in result.steps if s.title == "read the campaign funnel"][0].saw
    assert (funnel["clicks"], funnel["acquired"], funnel["activated"]) == (1, 1, 1)


def _connected(spans: list[ReceivedSpan]) -> bool:
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_span_id or s.parent_span_id not in ids]
    return len(roots) == 1 and roots[0].service == "gateway"


def test_the_journey_forms_connected_traces_across_all_services(world: JourneyWorld) -> None:
    result = play(world)
    trace_ids = {s.trace_id for s in result.steps if s.trace_id}
    assert len(trace_ids) >= 6

    def journey_spans(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if s.trace_id in trace_ids]

    def by_trace(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
        grouped: dict[str, list[ReceivedSpan]] = {}
        for span in journey_spans(spans):
            grouped.setdefault(span.trace_id, []).append(span)
        return grouped

    confirm = next(s.trace_id for s in result.steps if s.title.startswith("confirmed the ride binding"))

    def complete(spans: list[ReceivedSpan]) -> bool:
        grouped = by_trace(spans)
        return (
            set(grouped) == trace_ids
            and all(_connected(t) for t in grouped.values())
            and {s.service for s in journey_spans(spans)} >= ALL_PROCESSES
            # the processes export their spans in batches, each on its own schedule
            and {s.service for s in grouped[confirm]} >= ALL_PROCESSES
        )

    # every journey trace arrives whole (one root: the gateway's server span) and together they
    # cover the gateway and all five services
    traces = by_trace(world.spans.wait_for(complete, timeout=30))

    welcome = traces[confirm]
    # binding -> identity.partner_link.created -> reach -> benefits grant + content message
    assert {s.service for s in welcome} == ALL_PROCESSES
    names = {s.name for s in welcome}
    assert {"identity.partner_link.created publish", "identity.partner_link.created process"} <= names
    grpc_statuses = [s.attributes.get("rpc.grpc.status_code") for s in welcome if s.kind == 3]
    assert grpc_statuses and all(code == 0 for code in grpc_statuses)
    consumers = [s for s in welcome if s.kind == 5]
    assert consumers and all(
        s.attributes.get("messaging.nats.jetstream.delivery_count", 0) >= 1 for s in consumers
    )


def test_logs_spans_and_events_of_the_journey_carry_no_personal_numbers(world: JourneyWorld) -> None:
    from tests.support.privacy import findings, stream_payloads

    problems: list[str] = []
    logs = sorted((world.stack.config.var_dir / "logs").glob("*.log"))
    assert logs
    for path in logs:
        problems += findings(path.read_text(encoding="utf-8", errors="replace"), path.name)
    spans = world.spans.spans()
    assert spans
    for span in spans:
        problems += findings(f"{span.name} {span.attributes}", f"span {span.service}:{span.name}")
    payloads = stream_payloads(world.stack.config.nats_url)
    assert payloads
    for subject, data in payloads:
        problems += findings(data.decode("latin-1"), subject)
    assert not problems, "\n".join(problems[:20])


def _log_lines(world: JourneyWorld, trace_id: str) -> dict[str, list[dict[str, Any]]]:
    """`grep <trace_id> var/logs/*.log`, each line parsed, by process."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((world.stack.config.var_dir / "logs").glob("*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if trace_id in line and line.startswith("{"):
                found.setdefault(path.stem, []).append(json.loads(line))
    return found


def test_grep_of_a_milestone_trace_finds_the_request_the_event_and_the_postback(
    world: JourneyWorld, journey: JourneyResult
) -> None:
    from tests.support.privacy import findings

    result = journey
    milestone = next(s for s in result.steps if s.title.startswith("booked the first transaction"))
    assert milestone.trace_id

    def lines() -> dict[str, list[dict[str, Any]]] | None:
        found = _log_lines(world, milestone.trace_id)
        postbacks = [r for r in found.get("conversion", []) if r.get("message") == "postback"]
        return found if postbacks else None

    found = wait_until("the postback's log line", lines, timeout=30)
    access = [r for r in found["gateway"] if r["message"] == "access"]
    assert [(r["method"], r["route"], r["status"], r["caller_kind"]) for r in access] == [
        ("POST", "/v1/core/milestones", 202, "core")
    ]
    assert access[0]["caller_id"] and access[0]["duration_ms"] >= 0
    events = [r for r in found["conversion"] if r["message"] == "event"]
    assert events and all(r["outcome"] == "ack" and r["consumer"] and r["event_id"] for r in events)
    postback = next(r for r in found["conversion"] if r["message"] == "postback")
    assert (postback["partner_id"], postback["attempt"]) == ("ride", 1) and 200 <= postback["status"] < 300

    # the postback's HTTP call is a client span of the milestone's trace
    def postback_spans(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if s.trace_id == milestone.trace_id and s.name == "POST postback"]

    client_spans = postback_spans(world.spans.wait_for(lambda spans: bool(postback_spans(spans)), timeout=30))
    assert client_spans[0].kind == 3 and client_spans[0].service == "conversion"  # SPAN_KIND_CLIENT
    text = "\n".join(json.dumps(r) for records in found.values() for r in records)
    assert not findings(text, "milestone trace log lines")
