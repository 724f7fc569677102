"""The gateway's own server-span layer gives what OpenTelemetry's FastAPI instrumentation gave: the
same span (name, kind, attributes, status, parent from `traceparent`, exception events) and the same
duration metric with the dashboard's labels, for the same requests to twin apps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.asgi import collect_request_attributes
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.dispatch import dispatch_through_index
from gateway.server_telemetry import install_server_telemetry, request_attributes

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def _scope(**changes: Any) -> dict[str, Any]:
    scope = {
        "type": "http",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "client": ("10.1.2.3", 50123),
        "http_version": "1.1",
        "method": "GET",
        "path": "/v1/apps/mbank/me",
        "query_string": b"",
        "headers": [(b"host", b"gw.example:8080"), (b"user-agent", b"wrk/4.2"), (b"accept", b"*/*")],
    }
    scope.update(changes)
    return scope


@pytest.mark.parametrize(
    "scope",
    [
        _scope(),
        _scope(query_string=b"page=2&q=a%20b"),
        _scope(query_string=b"sig=secret&x=1"),  # redacted
        _scope(headers=[(b"host", b"user:pw@gw.example")]),  # credentials redacted
        _scope(headers=[]),  # no Host: the server's address
        _scope(server=("10.0.0.1", 80), headers=[(b"host", b"a"), (b"host", b"b")]),
        _scope(headers=[(b"user-agent", b"Googlebot/2.1 (+http://www.google.com/bot.html)")]),
        _scope(headers=[(b"user-agent", b"")]),
        _scope(client=None, method="brew", path="/r/abc"),
        _scope(path="/r/a%3Fb", query_string=b"u=%E2%82%AC"),
        _scope(scheme="https", http_version="2", server=None),
    ],
)
def test_request_attributes_are_the_instrumentations(scope: dict[str, Any]) -> None:
    assert request_attributes(dict(scope)) == collect_request_attributes(dict(scope))


def _app() -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/v1/items")

    @router.get("/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @router.get("/{item_id}/broken")
    async def broken(item_id: str) -> dict[str, str]:
        raise RuntimeError(f"broken {item_id}")

    @router.post("/{item_id}")
    async def conflict(item_id: str) -> JSONResponse:
        return JSONResponse({"id": item_id}, status_code=409)

    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class _Twin:
    def __init__(self, *, ours: bool) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.app = _app()
        if ours:
            install_server_telemetry(self.app, tracer_provider=tracer_provider, meter_provider=meter_provider)
            dispatch_through_index(self.app.router)
        else:
            FastAPIInstrumentor.instrument_app(
                self.app,
                excluded_urls="healthz,readyz",
                exclude_spans=["receive", "send"],
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
            )

    async def send(self, method: str, path: str, headers: dict[str, str]) -> int:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False, client=("10.1.2.3", 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.example:8080") as client:
            return (await client.request(method, path, headers=headers)).status_code

    def span_view(self) -> list[tuple[Any, ...]]:
        def view(span: ReadableSpan) -> tuple[Any, ...]:
            parent = span.parent
            return (
                span.name,
                span.kind,
                dict(span.attributes or {}),
                span.status.status_code,
                span.status.description,
                format(span.context.trace_id, "032x"),
                format(parent.span_id, "016x") if parent else None,
                [(e.name, (e.attributes or {}).get("exception.type")) for e in span.events],
            )

        return [view(s) for s in self.spans.get_finished_spans()]

    def duration_points(self) -> list[dict[str, Any]]:
        data = self.metrics.get_metrics_data()
        points = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "http.server.duration":
                        assert metric.unit == "ms"
                        for p in metric.data.data_points:
                            points.append({**dict(p.attributes or {}), "count": getattr(p, "count", None)})
        return sorted(points, key=repr)

    def active_points(self) -> list[tuple[dict[str, Any], Any]]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return sorted(
            (
                (dict(p.attributes or {}), getattr(p, "value", None))
                for r in data.resource_metrics
                for s in r.scope_metrics
                for m in s.metrics
                if m.name == "http.server.active_requests"
                for p in m.data.data_points
            ),
            key=repr,
        )

    def instrument_names(self) -> set[str]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}


REQUESTS = [
    ("GET", "/v1/items/a1", {"traceparent": f"00-{TRACE_ID}-{PARENT}-01"}),
    ("GET", "/v1/items/a2", {"user-agent": "partner-sdk/1.0"}),
    ("GET", "/v1/items/a3/broken", {}),  # 500, the exception recorded
    ("POST", "/v1/items/a4", {}),  # 409
    ("DELETE", "/v1/items/a5", {}),  # 405
    ("GET", "/nowhere?sig=abc", {}),  # 404, no route
    ("GET", "/healthz", {}),  # excluded: no span, no metric
]


async def test_spans_and_duration_metric_are_the_instrumentations() -> None:
    theirs, ours = _Twin(ours=False), _Twin(ours=True)
    try:
        for method, path, headers in REQUESTS:
            assert await theirs.send(method, path, headers) == await ours.send(method, path, headers)
        expected, found = theirs.span_view(), ours.span_view()
        assert len(found) == len(REQUESTS) - 1
        for mine, reference in zip(found, expected, strict=True):
            # trace ids are random but for the propagated one
            if mine[5] != TRACE_ID:
                mine, reference = mine[:5] + mine[7:], reference[:5] + reference[7:]
            assert mine == reference
        assert found[0][5] == TRACE_ID and found[0][6] == PARENT
        assert found[2][7] == [("exception", "RuntimeError")]
        assert ours.duration_points() == theirs.duration_points()
        assert ours.active_points() == theirs.active_points()
        assert ours.active_points() and all(value == 0 for _, value in ours.active_points())
        assert {"http.server.duration", "http.server.active_requests"} <= ours.instrument_names()
    finally:
        FastAPIInstrumentor.uninstrument_app(theirs.app)
