"""The span files' lines are the SDK's own `to_json` document (tools.traces and the trace pages read them)."""

from __future__ import annotations

import io
import json

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes

from services.runtime.personal_data import find_personal_numbers
from services.runtime.span_lines import SpanLines, SpanLinesExporter
from services.runtime.telemetry import ScrubbingSpanExporter, scrubbed_span

EVERY_TYPE: Attributes = {
    "text": "campaign spring-sale",
    "flag": True,
    "count": 42,
    "ratio": 0.375,
    "texts": ("a", "b"),
    "flags": (True, False),
    "counts": (1, 2, 3),
    "ratios": (0.5, 1.25),
}


def finished_spans() -> tuple[ReadableSpan, ...]:
    resource = Resource.create(
        {"service.name": "gateway", "service.namespace": "lattice", "deployment.region": "eu-1", "shard": 3},
        schema_url="https://opentelemetry.io/schemas/1.21.0",
    )
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /r/{code}", kind=SpanKind.SERVER, attributes=EVERY_TYPE) as root:
        redirected: Attributes = {"http.status_code": 302, "targets": ("web", "app")}
        root.add_event("redirected", redirected, timestamp=1_700_000_000_123_456_789)
        root.add_event("no attributes")
        retry = Link(root.get_span_context(), {"why": "retry", "n": 2})
        redirect = "conversion.Conversion/Redirect"
        with tracer.start_as_current_span(redirect, kind=SpanKind.CLIENT, links=[retry]) as child:
            child.set_status(Status(StatusCode.ERROR, "deadline exceeded"))
        with tracer.start_as_current_span("SELECT links", links=[Link(root.get_span_context())]) as ok:
            ok.set_status(Status(StatusCode.OK))
    provider.shutdown()
    return memory.get_finished_spans()


def test_each_line_is_the_document_to_json_writes() -> None:
    spans = finished_spans()
    lines = SpanLines()
    for span in spans:
        line = lines.line(span)
        assert line.endswith("\n") and line.count("\n") == 1
        assert json.loads(line) == json.loads(span.to_json()), span.name
    last = spans[-1]
    assert list(json.loads(lines.line(last))) == list(json.loads(last.to_json()))  # the same key order


def test_the_exporter_writes_one_scrubbed_line_per_span() -> None:
    out = io.StringIO()
    provider = TracerProvider(resource=Resource.create({"service.name": "gateway"}))
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingSpanExporter(SpanLinesExporter(out))))
    tracer = provider.get_tracer("test")
    binding = {"url.path": "/v1/partner/bindings/138-0013-8000"}
    with tracer.start_as_current_span("bind 13800138000", attributes=binding):
        pass
    with tracer.start_as_current_span("GET /healthz", attributes={"http.status_code": 200}):
        pass
    provider.shutdown()
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["bind [personal-number]", "GET /healthz"]
    assert not find_personal_numbers(out.getvalue())


def test_a_span_without_personal_numbers_is_exported_as_is() -> None:
    for span in finished_spans():  # events, links and an error status, none personal: no copy
        assert scrubbed_span(span) is span
