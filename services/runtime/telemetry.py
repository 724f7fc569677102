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
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from pythonjsonlogger.json import JsonFormatter

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


def setup_logging(service: str, level: str = "INFO") -> None:
    """JSON logs on stderr, each line with service, trace_id and span_id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContextFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
            static_fields={"service": service},
        )
    )
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
    return ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")


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
    tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter(service, var_dir, files)))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[_metric_reader(service, var_dir, files)]
    )
    metrics.set_meter_provider(meter_provider)
    return Telemetry(tracer_provider, meter_provider, files)
