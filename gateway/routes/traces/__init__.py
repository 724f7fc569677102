"""Traces of the embedded default for operators: `GET /v1/ops/traces` and `/v1/ops/traces/{trace_id}`.

Any operator role (viewer and up) may read them: every console page links the trace of its own
request. Traces are not branch objects and carry no object ids or personal data: only route
templates, RPC and subject names, statuses, reasons and timings (see spans.SHOWN). With a collector
configured (OTEL_EXPORTER_OTLP_ENDPOINT) spans leave this process, and the routes answer 409
`traces_not_local`: look them up in the collector's UI.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.problems import Problem
from gateway.routes.traces.spans import SpanFiles, Trace

router = APIRouter(prefix="/v1/ops/traces", tags=["traces"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
TraceId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="32 lower-case hex digits")]


class TraceSummary(BaseModel):
    trace_id: str
    started_at: datetime
    duration_ms: float
    route: str
    http_status: int | None
    error: bool
    services: list[str]
    span_count: int


class TracePage(BaseModel):
    traces: list[TraceSummary]
    next_page_token: str = ""


class SpanPublic(BaseModel):
    span_id: str
    parent_id: str
    service: str
    name: str
    kind: str
    depth: int
    offset_ms: float
    duration_ms: float
    error: bool
    attributes: dict[str, str | int | float | bool]


class TraceDetail(TraceSummary):
    spans: list[SpanPublic]


def _summary(trace: Trace) -> TraceSummary:
    return TraceSummary(
        trace_id=trace.trace_id,
        started_at=datetime.fromtimestamp(trace.start_ns / 1e9, tz=UTC),
        duration_ms=round(trace.duration_ms, 3),
        route=trace.route,
        http_status=trace.http_status,
        error=trace.error,
        services=trace.services,
        span_count=len(trace.spans),
    )


def _matches(
    trace: Trace, *, route: str, service: str, status: str, since: datetime | None, until: datetime | None
) -> bool:
    started = trace.start_ns / 1e9
    return (
        (not route or route.lower() in trace.route.lower())
        and (not service or service in trace.services)
        and (
            not status
            or (status == "error" and trace.error)
            or (status == "ok" and not trace.error)
            or (status.isdigit() and trace.http_status == int(status))
        )
        and (since is None or started >= since.timestamp())
        and (until is None or started < until.timestamp())
    )


async def _traces(request: Request) -> dict[str, Trace]:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        raise Problem(
            409, "traces_not_local", "spans go to the configured collector; look the trace up there"
        )
    files = getattr(request.app.state, "span_files", None)
    if files is None:
        files = request.app.state.span_files = SpanFiles(request.app.state.settings.var_dir / "telemetry")
    return await asyncio.to_thread(files.traces)


@router.get(
    "",
    operation_id="search_traces",
    responses={409: {"description": "Spans go to a collector (OTLP): look traces up there"}},
    response_model=TracePage,
    summary="Recent traces, newest first, searchable",
)
async def search_traces(
    request: Request,
    operator: Viewer,
    route: Annotated[str, Query(max_length=200, pattern=r"^[A-Za-z0-9_/{}.:\- ]*$")] = "",
    service: Annotated[str, Query(pattern=r"^([a-z][a-z0-9_-]{0,39})?$")] = "",
    status: Annotated[str, Query(pattern=r"^(ok|error|[1-5][0-9]{2})?$")] = "",
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(pattern=r"^([0-9]{1,20}-[0-9a-f]{32})?$")] = "",
) -> TracePage:
    """Route matches the route template (substring); status is ok, error or an HTTP status code."""
    found = [
        t
        for t in (await _traces(request)).values()
        if _matches(t, route=route, service=service, status=status, since=since, until=until)
    ]
    found.sort(key=lambda t: (t.start_ns, t.trace_id), reverse=True)
    if page_token:
        start, _, trace_id = page_token.partition("-")
        cursor = (int(start), trace_id)
        found = [t for t in found if (t.start_ns, t.trace_id) < cursor]
    shown = found[:limit]
    token = f"{shown[-1].start_ns}-{shown[-1].trace_id}" if len(found) > limit else ""
    return TracePage(traces=[_summary(t) for t in shown], next_page_token=token)


@router.get(
    "/{trace_id}",
    operation_id="get_trace",
    responses={
        404: {"description": "No such trace in the recent span files"},
        409: {"description": "Spans go to a collector (OTLP): look traces up there"},
    },
    response_model=TraceDetail,
    summary="One trace as a waterfall across processes",
)
async def get_trace(trace_id: TraceId, request: Request, operator: Viewer) -> TraceDetail:
    """Spans depth-first with their offset from the trace's start and their duration."""
    trace = (await _traces(request)).get(trace_id)
    if trace is None:
        raise Problem(404, "trace_not_found", f"no trace {trace_id} in the recent span files")
    start = trace.start_ns
    spans = [
        SpanPublic(
            span_id=s.span_id,
            parent_id=s.parent_id,
            service=s.service,
            name=s.name,
            kind=s.kind,
            depth=depth,
            offset_ms=round((s.start_ns - start) / 1e6, 3),
            duration_ms=round((s.end_ns - s.start_ns) / 1e6, 3),
            error=s.error,
            attributes=s.attributes,
        )
        for s, depth in trace.waterfall()
    ]
    return TraceDetail(**_summary(trace).model_dump(), spans=spans)
