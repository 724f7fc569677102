"""The embedded default's span files (`VAR_DIR/telemetry/*.spans.jsonl`) read as traces for operators.

Only the attributes in SHOWN leave this module: route templates, methods, statuses, RPC and
subject names and reasons. Targets, queries, event attributes and exception messages never do
(they can carry ids a role does not need).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

TAIL_BYTES = 16 * 1024 * 1024  # read of a process file when first followed: its "recent" traces
MAX_SPANS_PER_FILE = 50_000  # kept per process file; older spans drop out of the search
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


def _parse(line: bytes) -> tuple[str, Span] | None:
    try:
        raw = json.loads(line)
        return raw["context"]["trace_id"].removeprefix("0x"), Span.parse(raw)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a torn or foreign line


@dataclass
class _Followed:
    inode: int
    position: int
    spans: deque[tuple[str, Span]]
    cut: bool  # started inside the file: the first line read is a fragment


class SpanFiles:
    """The span files of a directory, followed: each call parses only the lines appended since the last."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._files: dict[Path, _Followed] = {}
        self._lock = threading.Lock()

    def traces(self) -> dict[str, Trace]:
        """trace id -> Trace over the recent spans of every process's file."""
        with self._lock:
            paths = sorted(self._directory.glob("*.spans.jsonl"))
            for gone in set(self._files) - set(paths):
                del self._files[gone]
            for path in paths:
                self._follow(path)
            traces: dict[str, Trace] = {}
            for followed in self._files.values():
                for trace_id, span in followed.spans:
                    traces.setdefault(trace_id, Trace(trace_id)).spans.append(span)
            return traces

    def _follow(self, path: Path) -> None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._files.pop(path, None)
            return
        followed = self._files.get(path)
        if followed is None or followed.inode != stat.st_ino or stat.st_size < followed.position:
            start = max(0, stat.st_size - TAIL_BYTES)
            followed = _Followed(stat.st_ino, start, deque(maxlen=MAX_SPANS_PER_FILE), cut=start > 0)
            self._files[path] = followed
        if stat.st_size <= followed.position:
            return
        with path.open("rb") as handle:
            handle.seek(followed.position)
            data = handle.read(stat.st_size - followed.position)
        end = data.rfind(b"\n")
        if end < 0:
            return  # the line being written is not complete yet
        followed.position += end + 1
        lines = data[:end].split(b"\n")
        if followed.cut:
            lines, followed.cut = lines[1:], False
        followed.spans.extend(parsed for parsed in map(_parse, lines) if parsed is not None)
