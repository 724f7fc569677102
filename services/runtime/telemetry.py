"""OpenTelemetry for every process: traces, metrics and JSON logs that carry the trace id.

With `OTEL_EXPORTER_OTLP_ENDPOINT` set, traces and metrics go over OTLP/gRPC (to the collector in
the compose deployment). Without it, spans are appended as JSON lines to
`var/telemetry/<service>.spans.jsonl` so ops can still read traces (`python -m tools.traces`).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status
from pythonjsonlogger.json import JsonFormatter

from services.runtime.personal_data import scrub
from services.runtime.span_lines import SpanLinesExporter

ATTR_EVENT_ID = "lattice.event_id"
ATTR_REASON = "lattice.reason"
ATTR_DELIVERY_COUNT = "messaging.nats.jetstream.delivery_count"


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    files: list[IO[str]]

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        for f in self.files:
            f.close()


class _TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else ""
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else ""
        return True


_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class PersonalDataFilter(logging.Filter):
    """Scrubs personal numbers from log messages, exceptions and extra fields (defence in depth)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call still logs its format string, scrubbed
            message = str(record.msg)
        clean = scrub(message)
        if clean != message or not isinstance(record.msg, str):
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # the exception's message may quote client input; its formatted text is scrubbed once here
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, key, scrub(value))
        return True


def _clean(value: object) -> object:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        clean = tuple(scrub(v) if isinstance(v, str) else v for v in value)
        return value if all(c is v for c, v in zip(clean, value, strict=True)) else clean
    return value


def _clean_attributes(attributes: Mapping[str, object] | None) -> Mapping[str, object] | None:
    """`attributes` itself when nothing in them is personal (`scrub` returns clean text as is)."""
    clean: dict[str, object] | None = None
    for key, value in (attributes or {}).items():
        cleaned = _clean(value)
        if cleaned is not value:
            clean = dict(attributes or {}) if clean is None else clean
            clean[key] = cleaned
    return attributes if clean is None else clean


def scrubbed_span(span: ReadableSpan) -> ReadableSpan:
    """`span` with no personal number in its name, attributes, events or status: a copy only if it had one."""
    name, raw = scrub(span.name), span.attributes  # a new read-only view on each access: read once
    attributes = _clean_attributes(raw)
    events = [(e, e.attributes, _clean_attributes(e.attributes)) for e in span.events]
    description = span.status.description
    clean_description = scrub(description) if description else description
    if (
        name is span.name
        and attributes is raw
        and all(clean is event_attributes for _, event_attributes, clean in events)
        and clean_description is description
    ):
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,  # type: ignore[arg-type]  # the SDK types span attributes as a read-only mapping; a plain dict is what it stores
        events=[
            Event(e.name, clean, e.timestamp)  # type: ignore[arg-type]  # the SDK types span attributes as a read-only mapping; a plain dict is what it stores
            for e, _, clean in events
        ],
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code, clean_description or None),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingSpanExporter(SpanExporter):
    """Exports spans through `inner` only after scrubbing personal numbers out of them."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([scrubbed_span(s) for s in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def setup_logging(service: str, level: str = "INFO") -> None:
    """JSON logs on stderr, each line with service, trace_id and span_id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(PersonalDataFilter())
    handler.addFilter(_TraceContextFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
            static_fields={"service": service},
        )
    )
    # The lines carry no caller location, thread or process: the logging HOWTO's "Optimization"
    # switches spare every record working them out (a stack walk among them; the gateway writes a
    # line per request)
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("nats", "httpx", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _span_exporter(service: str, var_dir: Path, files: list[IO[str]]) -> SpanExporter:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    directory = var_dir / "telemetry"
    directory.mkdir(parents=True, exist_ok=True)
    out = open(directory / f"{service}.spans.jsonl", "a", encoding="utf-8")  # noqa: SIM115
    files.append(out)
    return SpanLinesExporter(out)


def _metric_reader(service: str, var_dir: Path, files: list[IO[str]]) -> MetricReader:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return PeriodicExportingMetricReader(OTLPMetricExporter())
    out = open(var_dir / "telemetry" / f"{service}.metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
    files.append(out)
    exporter = ConsoleMetricExporter(out=out, formatter=lambda m: m.to_json(indent=None) + "\n")
    return PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)


def setup_telemetry(service: str, *, var_dir: Path, log_level: str = "INFO") -> Telemetry:
    """Install the global tracer and meter providers and JSON logging for one process."""
    setup_logging(service, log_level)
    resource = Resource.create(
        {
            "service.name": service,
            "service.namespace": "lattice",
            "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
        }
    )
    files: list[IO[str]] = []
    tracer_provider = TracerProvider(resource=resource)
    exporter = ScrubbingSpanExporter(_span_exporter(service, var_dir, files))
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[_metric_reader(service, var_dir, files)]
    )
    metrics.set_meter_provider(meter_provider)
    return Telemetry(tracer_provider, meter_provider, files)
