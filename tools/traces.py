"""Read the traces of the embedded default (var/telemetry/*.spans.jsonl) without any collector.

    python -m tools.traces list                 recent traces: id, root span, services, duration
    python -m tools.traces show TRACE_ID        one trace as a tree across processes
    python -m tools.traces export --endpoint http://127.0.0.1:4318 [TRACE_ID ...]
                                                send them as OTLP/JSON to a collector or Jaeger
    python -m tools.traces export --out traces.otlp.json [TRACE_ID ...]

Every process writes its spans there when OTEL_EXPORTER_OTLP_ENDPOINT is unset
(services/runtime/telemetry.py). docs/operations.md shows how to look at them in Jaeger.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

OTLP_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
OTLP_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
SHOWN_ATTRIBUTES = (
    "http.status_code",
    "http.target",
    "rpc.grpc.status_code",
    "messaging.destination.name",
    "lattice.reason",
    "lattice.event_id",
)


@dataclass
class Span:
    """One span as the console exporter wrote it."""

    raw: dict[str, Any]
    children: list[Span] = field(default_factory=list)

    @property
    def trace_id(self) -> str:
        return self.raw["context"]["trace_id"].removeprefix("0x")

    @property
    def span_id(self) -> str:
        return self.raw["context"]["span_id"].removeprefix("0x")

    @property
    def parent_id(self) -> str:
        return (self.raw.get("parent_id") or "").removeprefix("0x")

    @property
    def service(self) -> str:
        return str(self.raw["resource"]["attributes"].get("service.name", "?"))

    @property
    def start_ns(self) -> int:
        return _nanos(self.raw["start_time"])

    @property
    def duration_ms(self) -> float:
        return (_nanos(self.raw["end_time"]) - self.start_ns) / 1e6

    @property
    def kind(self) -> str:
        return self.raw["kind"].removeprefix("SpanKind.")


def _nanos(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def read_spans(telemetry_dir: Path) -> dict[str, list[Span]]:
    """trace id -> spans, from every *.spans.jsonl of the directory (torn last lines skipped)."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for path in sorted(telemetry_dir.glob("*.spans.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                span = Span(json.loads(line))
            except json.JSONDecodeError:
                continue
            traces[span.trace_id].append(span)
    return dict(traces)


def build_tree(spans: list[Span]) -> list[Span]:
    """The roots of a trace, children ordered by start; a span whose parent is missing is a root."""
    by_id = {s.span_id: s for s in spans}
    roots: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = by_id.get(span.parent_id)
        (parent.children if parent else roots).append(span)
    return roots


def render(roots: list[Span]) -> str:
    """An indented tree: service, span name, kind, duration and the attributes ops look at."""
    lines: list[str] = []

    def walk(span: Span, depth: int) -> None:
        attrs = span.raw.get("attributes", {})
        shown = " ".join(f"{k}={attrs[k]}" for k in SHOWN_ATTRIBUTES if k in attrs)
        status = span.raw.get("status", {}).get("status_code", "UNSET")
        flag = " ERROR" if status == "ERROR" else ""
        lines.append(
            f"{'  ' * depth}[{span.service}] {span.raw['name']} ({span.kind.lower()}, "
            f"{span.duration_ms:.1f} ms){flag} {shown}".rstrip()
        )
        for child in span.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)


def summary(traces: dict[str, list[Span]], limit: int) -> str:
    """The most recent traces, one line each."""
    rows = []
    for trace_id, spans in traces.items():
        first = min(spans, key=lambda s: s.start_ns)
        end = max(_nanos(s.raw["end_time"]) for s in spans)
        services = ",".join(sorted({s.service for s in spans}))
        rows.append(
            (
                first.start_ns,
                f"{trace_id}  {first.raw['start_time']}  {(end - first.start_ns) / 1e6:8.1f} ms"
                f"  {len(spans):3d} spans  {first.raw['name']}  [{services}]",
            )
        )
    return "\n".join(line for _, line in sorted(rows, reverse=True)[:limit])


def _any_value(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in attrs.items()]


def to_otlp(spans: list[Span]) -> dict[str, Any]:
    """An OTLP/JSON ExportTraceServiceRequest (hex ids, as OTLP/HTTP JSON wants) grouped by resource."""
    by_resource: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_resource[json.dumps(span.raw["resource"]["attributes"], sort_keys=True)].append(span)
    resource_spans = []
    for resource, group in by_resource.items():
        otlp_spans = []
        for s in group:
            status = s.raw.get("status", {})
            otlp = {
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "name": s.raw["name"],
                "kind": OTLP_KIND.get(s.kind, 1),
                "startTimeUnixNano": str(s.start_ns),
                "endTimeUnixNano": str(_nanos(s.raw["end_time"])),
                "attributes": _attributes(s.raw.get("attributes", {})),
                "events": [
                    {
                        "name": e["name"],
                        "timeUnixNano": str(_nanos(e["timestamp"])),
                        "attributes": _attributes(e.get("attributes", {})),
                    }
                    for e in s.raw.get("events", [])
                ],
                "status": {
                    "code": OTLP_STATUS.get(status.get("status_code", "UNSET"), 0),
                    **({"message": status["description"]} if status.get("description") else {}),
                },
            }
            if s.parent_id:
                otlp["parentSpanId"] = s.parent_id
            otlp_spans.append(otlp)
        resource_spans.append(
            {
                "resource": {"attributes": _attributes(json.loads(resource))},
                "scopeSpans": [{"scope": {"name": "lattice.tools.traces"}, "spans": otlp_spans}],
            }
        )
    return {"resourceSpans": resource_spans}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.traces", description=__doc__.splitlines()[0])
    parser.add_argument("--var-dir", type=Path, default=Path("var"), help="VAR_DIR of the processes")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list").add_argument("--limit", type=int, default=20)
    commands.add_parser("show").add_argument("trace_id")
    export = commands.add_parser("export")
    export.add_argument("trace_ids", nargs="*", help="default: every trace")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--endpoint", help="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    target.add_argument("--out", type=Path, help="write OTLP/JSON to this file")
    args = parser.parse_args(argv)

    traces = read_spans(args.var_dir / "telemetry")
    if args.command == "list":
        print(summary(traces, args.limit) or f"no spans under {args.var_dir / 'telemetry'}")
        return 0
    if args.command == "show":
        spans = traces.get(args.trace_id.removeprefix("0x").lower())
        if not spans:
            print(f"no trace {args.trace_id}", file=sys.stderr)
            return 1
        print(render(build_tree(spans)))
        return 0
    chosen = [s for tid in (args.trace_ids or traces) for s in traces.get(tid.removeprefix("0x").lower(), [])]
    payload = to_otlp(chosen)
    if args.out:
        args.out.write_text(json.dumps(payload))
    else:
        reply = httpx.post(args.endpoint.rstrip("/") + "/v1/traces", json=payload, timeout=30)
        reply.raise_for_status()
    print(f"exported {len(chosen)} spans of {len({s.trace_id for s in chosen})} traces")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
