"""The embedded default's span files: one JSON document per span, the same as `ReadableSpan.to_json`.

`to_json` re-serialises the span's Resource to JSON and parses it back for every span; here each
Resource is serialised once and spliced into every line of its spans (`tools.traces` and the
gateway's trace pages parse these lines, so the document must not change: tests/platform pins it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, format_span_id, format_trace_id

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _iso(nanoseconds: int) -> str:
    """`opentelemetry.sdk.util.ns_to_iso_str` without its strftime (a third of the formatting)."""
    at = datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC)
    return f"{at.isoformat(timespec='microseconds')[:-6]}Z"


def _context(context: SpanContext) -> dict[str, str]:
    return {
        "trace_id": f"0x{format_trace_id(context.trace_id)}",
        "span_id": f"0x{format_span_id(context.span_id)}",
        "trace_state": repr(context.trace_state),
    }


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if attributes is None else dict(attributes)


class SpanLines:
    """Formats spans as JSON lines; the Resource's JSON is computed once."""

    def __init__(self) -> None:
        self._resource: tuple[Resource, str] | None = None  # a process has one Resource

    def _resource_json(self, resource: Resource) -> str:
        if self._resource is None or self._resource[0] is not resource:
            # the document `to_json` embeds, json.loads(resource.to_json()), compact
            self._resource = (resource, _dumps(json.loads(resource.to_json(indent=None))))
        return self._resource[1]

    def line(self, span: ReadableSpan) -> str:
        """`span` as one line: the document `span.to_json()` describes, keys in its order."""
        status: dict[str, str] = {"status_code": span.status.status_code.name}
        if span.status.description:
            status["description"] = span.status.description
        document = {
            "name": span.name,
            "context": _context(span.context) if span.context else None,
            "kind": str(span.kind),
            "parent_id": f"0x{format_span_id(span.parent.span_id)}" if span.parent else None,
            "start_time": _iso(span.start_time) if span.start_time else None,
            "end_time": _iso(span.end_time) if span.end_time else None,
            "status": status,
            "attributes": _attributes(span.attributes),
            "events": [
                {
                    "name": e.name,
                    "timestamp": _iso(e.timestamp),
                    "attributes": _attributes(e.attributes),
                }
                for e in span.events
            ],
            "links": [
                {"context": _context(link.context), "attributes": _attributes(link.attributes)}
                for link in span.links
            ],
        }
        return f'{_dumps(document)[:-1]},"resource":{self._resource_json(span.resource)}}}\n'


class SpanLinesExporter(SpanExporter):
    """Appends each batch of spans to `out` in one write, one JSON line per span."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lines = SpanLines()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._out.write("".join(map(self._lines.line, spans)))
        self._out.flush()
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
