"""Traces (链路追踪): recent traces searched by route, service, status and time; one trace as a waterfall."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from console.api import ApiProblem, OpsApiDep, ops_path
from console.formatting import BANK_ZONE, local_time, parse_time
from console.nav import NavEntry
from console.templating import render, translator

router = APIRouter(prefix="/traces")
NAV = NavEntry(label="nav.traces", path="/traces", order=30, section="platform")
SERVICES = ("gateway", "identity", "benefits", "content", "reach", "conversion")
PALETTE = ("#1f5fa8", "#2e9d6b", "#c9771b", "#8e44ad", "#c0392b", "#16a2b8", "#6c757d")
RECENT_S = 10.0  # more than the batch span processor's 5 s schedule delay
LocalMinute = Annotated[str, Query(pattern=r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})?$")]


def bank_moment(value: str) -> str:
    """A datetime-local field (the bank's zone) as an aware ISO instant for the API; '' stays ''."""
    return datetime.fromisoformat(value).replace(tzinfo=BANK_ZONE).isoformat() if value else ""


def waterfall_chart(spans: list[dict[str, Any]], services: list[str]) -> dict[str, Any]:
    """ECharts stacked bars: an invisible bar up to each span's offset, then its duration, by process."""
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(services)}
    labels = [f"{i + 1}. {'· ' * s['depth']}{s['service']} {s['name']}"[:90] for i, s in enumerate(spans)]
    return {
        "animation": False,
        "grid": {"left": 8, "right": 24, "top": 8, "bottom": 24, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "name": "ms", "min": 0},
        "yAxis": {"type": "category", "inverse": True, "data": labels, "axisLabel": {"fontSize": 11}},
        "series": [
            {
                "name": "offset",
                "type": "bar",
                "stack": "span",
                "silent": True,
                "itemStyle": {"color": "transparent"},
                "data": [s["offset_ms"] for s in spans],
            },
            {
                "name": "ms",
                "type": "bar",
                "stack": "span",
                "data": [
                    {
                        "value": max(s["duration_ms"], 0.01),
                        "itemStyle": {"color": "#d9534f" if s["error"] else colour[s["service"]]},
                    }
                    for s in spans
                ],
            },
        ],
    }


def _recent(trace: dict[str, Any]) -> bool:
    """Ended within the processes' batch interval: spans of other processes may still arrive."""
    ended = parse_time(trace["started_at"]).timestamp() + trace["duration_ms"] / 1000  # type: ignore[union-attr]  # a trace always has a start time
    return time.time() - ended < RECENT_S


def chart_size(spans: int) -> str:
    """A height class for the waterfall (the CSP allows no inline style)."""
    return next((name for name, most in (("s", 10), ("m", 25), ("l", 60)) if spans <= most), "xl")


@router.get("")
async def search(
    request: Request,
    api: OpsApiDep,
    route: Annotated[str, Query(max_length=200, pattern=r"^[A-Za-z0-9_/{}.:\- ]*$")] = "",
    service: Annotated[str, Query(pattern=r"^([a-z][a-z0-9_-]{0,39})?$")] = "",
    status: Annotated[str, Query(pattern=r"^(ok|error|[1-5][0-9]{2})?$")] = "",
    since: LocalMinute = "",
    until: LocalMinute = "",
    page_token: Annotated[str, Query(max_length=60)] = "",
) -> Response:
    t = translator(request)
    filters = {"route": route, "service": service, "status": status, "since": since, "until": until}
    jaeger = request.app.state.settings.jaeger_url
    page: dict[str, Any] = {"traces": [], "next_page_token": ""}
    if not jaeger:
        params = {
            **filters,
            "since": bank_moment(since),
            "until": bank_moment(until),
            "page_token": page_token,
        }
        page = await api.get("/v1/ops/traces", params={**params, "limit": 50})
    return await render(
        request,
        "traces/search.html",
        title=t("traces.title"),
        breadcrumb=[(t("traces.title"), None)],
        filters=filters,
        services=SERVICES,
        traces=page["traces"],
        next_page_token=page["next_page_token"],
        page_params=filters,
        jaeger_url=jaeger,
    )


@router.get("/{trace_id}")
async def show(
    request: Request, api: OpsApiDep, trace_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> Response:
    t = translator(request)
    breadcrumb = [(t("traces.title"), "/traces"), (trace_id[:12], None)]
    try:
        trace = await api.get(ops_path("/v1/ops/traces/{}", trace_id))
    except ApiProblem as problem:
        if problem.code != "trace_not_found":
            raise
        # spans reach the files in batches every few seconds: the page asks again by itself
        return await render(
            request,
            "traces/pending.html",
            title=t("traces.trace"),
            breadcrumb=breadcrumb,
            status_code=404,
            trace_id=trace_id,
        )
    spans = trace["spans"]
    return await render(
        request,
        "traces/trace.html",
        title=f"{t('traces.trace')} {trace_id[:12]}",
        breadcrumb=breadcrumb,
        trace=trace,
        spans=spans,
        started=local_time(trace["started_at"]),
        chart=waterfall_chart(spans, trace["services"]),
        chart_size=chart_size(len(spans)),
        recent=_recent(trace),
    )
