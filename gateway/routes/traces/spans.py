"""The embedded default's span files (`VAR_DIR/telemetry/*.spans.jsonl`) read as traces for operators.

Only the attributes in SHOWN leave this module: route templates, methods, statuses, RPC and
subject names and reasons. Targets, queries, event attributes and exception messages never do
(they can carry ids a role does not need).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

TAIL_BYTES = 16 * 1024 * 1024  # per process file: "recent" traces, bounded work per request
SHOWN = (
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
)


def _nanos(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass
class Span:
    """One span with only what operators may see."""

    span_id: str
    parent_id: str
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    error: bool
    attributes: dict[str, Any]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Span:
        attrs = raw.get("attributes") or {}
        return cls(
            span_id=raw["context"]["span_id"].removeprefix("0x"),
            parent_id=(raw.get("parent_id") or "").removeprefix("0x"),
            service=str(raw["resource"]["attributes"].get("service.name", "?")),
            name=str(raw["name"])[:200],
            kind=str(raw.get("kind", "")).removeprefix("SpanKind.").lower(),
            start_ns=_nanos(raw["start_time"]),
            end_ns=_nanos(raw["end_time"]),
            error=(raw.get("status") or {}).get("status_code") == "ERROR",
            attributes={k: attrs[k] for k in SHOWN if k in attrs},
        )


@dataclass
class Trace:
    """The spans of one trace id, and what a search looks at."""

    trace_id: str
    spans: list[Span] = field(default_factory=list)

    @property
    def start_ns(self) -> int:
        return min(s.start_ns for s in self.spans)

    @property
    def duration_ms(self) -> float:
        return (max(s.end_ns for s in self.spans) - self.start_ns) / 1e6

    @property
    def root(self) -> Span:
        """The gateway's server span if there is one, else the earliest span."""
        servers = [s for s in self.spans if s.kind == "server" and "http.route" in s.attributes]
        return min(servers or self.spans, key=lambda s: s.start_ns)

    @property
    def route(self) -> str:
        root = self.root
        return str(root.attributes.get("http.route") or root.name)

    @property
    def http_status(self) -> int | None:
        status = self.root.attributes.get("http.status_code")
        return int(status) if isinstance(status, int | str) and str(status).isdigit() else None

    @property
    def error(self) -> bool:
        return any(s.error for s in self.spans) or (self.http_status or 0) >= 500

    @property
    def services(self) -> list[str]:
        return sorted({s.service for s in self.spans})

    def waterfall(self) -> list[tuple[Span, int]]:
        """Spans depth-first under their parents, each with its depth; orphans are roots."""
        by_id = {s.span_id: s for s in self.spans}
        children: dict[str, list[Span]] = {}
        roots: list[Span] = []
        for span in sorted(self.spans, key=lambda s: s.start_ns):
            if span.parent_id in by_id and span.parent_id != span.span_id:
                children.setdefault(span.parent_id, []).append(span)
            else:
                roots.append(span)
        out: list[tuple[Span, int]] = []
        stack = [(r, 0) for r in reversed(roots)]
        while stack:
            span, depth = stack.pop()
            out.append((span, depth))
            stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
        return out


def _tail_lines(path: Path) -> list[str]:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - TAIL_BYTES))
        data = handle.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[1:] if size > TAIL_BYTES else lines  # the first line of a tail is cut


def read_traces(telemetry_dir: Path) -> dict[str, Trace]:
    """trace id -> Trace from the tail of every process's span file; torn or foreign lines skipped."""
    traces: dict[str, Trace] = {}
    for path in sorted(telemetry_dir.glob("*.spans.jsonl")):
        for line in _tail_lines(path):
            try:
                raw = json.loads(line)
                trace_id = raw["context"]["trace_id"].removeprefix("0x")
                span = Span.parse(raw)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            traces.setdefault(trace_id, Trace(trace_id)).spans.append(span)
    return traces
