"""The gateway's server span and HTTP metrics per request: one lean ASGI layer of our own.

It replaces OpenTelemetry's FastAPI/ASGI instrumentation (`FastAPIInstrumentor`), whose middleware
cost a fifth of the gateway's own CPU per request on its hot paths: it decoded every request header
three times to find Host and User-Agent, parsed the URL twice (the excluded-URL check, `redact_url`),
set each span attribute twice, and recorded three histograms. What it produced is kept:

- one span per request, kind SERVER (INTERNAL under an already active span, as before), named
  `GET /r/{code}` from the route index (`route_index.span_details`), its parent taken from the
  incoming headers by the global propagator (W3C `traceparent`: partners and apps propagate traces),
  with the old HTTP semantic conventions' attributes, the same as before
  (`collect_request_attributes`: http.method, http.route, http.target, http.url with credentials and
  signature parameters redacted, http.scheme, http.host, http.server_name, http.flavor,
  http.user_agent, net.host.port, net.peer.ip/port; http.status_code and an ERROR status for a 5xx
  when the response starts), ended when the response's last body part is sent;
- an exception escaping the app recorded on that span with an ERROR status (`RecordExceptions`,
  inside the app's own 500 handler, as the instrumentor placed its `ExceptionHandlerMiddleware`);
- the metrics the dashboard queries (`infra/grafana/dashboards/lattice-red.json`):
  `http.server.duration` (ms; http.method, http.host, http.scheme, http.status_code, http.flavor,
  http.server_name, net.host.port, and http.target = the route template), and
  `http.server.active_requests` with its labels (counted in a dict, observed at collection: an
  observable up-down counter). The request and response size histograms, which no dashboard or
  alert reads, are no longer recorded, nor exemplars (the span's context is not passed);
- no span or metric for `/healthz` and `/readyz` (the excluded URLs, now matched on the path).
"""

from __future__ import annotations

import logging
import re
import timeit
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.utils import http_status_to_status_code, is_http_instrumentation_enabled
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.propagators.textmap import Getter
from opentelemetry.semconv._incubating.metrics.http_metrics import HTTP_SERVER_ACTIVE_REQUESTS
from opentelemetry.semconv.metrics import MetricInstruments
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.http import (
    detect_synthetic_user_agent,
    normalize_user_agent,
    redact_url,
    sanitize_method,
)
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.route_index import span_details

logger = logging.getLogger(__name__)

SCHEMA_URL = "https://opentelemetry.io/schemas/1.11.0"  # the old HTTP conventions
EXCLUDED_PATHS = re.compile("healthz|readyz")  # as `excluded_urls="healthz,readyz"` was
# the duration histogram's and the active-requests counter's attributes (old HTTP conventions)
_DURATION_KEYS = (
    "http.method",
    "http.host",
    "http.scheme",
    "http.status_code",
    "http.flavor",
    "http.server_name",
    "net.host.name",
    "net.host.port",
)
_ACTIVE_KEYS = ("http.method", "http.host", "http.scheme", "http.flavor", "http.server_name")
# methods sanitize_method keeps as they are (it reads the environment for any other)
_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY")
)
MAX_ACTIVE_SETS = 2000  # the SDK's default cardinality limit; more go to one overflow set, as there
_OVERFLOW: Any = (("otel.metric.overflow", True),)
_NO_TRACE = context.Context()  # measurements without the span: no exemplar is taken (nothing reads them)


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except ValueError:
        return value.decode("unicode_escape")


class _HeaderGetter(Getter[Scope]):
    """The propagator's view of the request headers (ASGI names are lower case bytes)."""

    def get(self, carrier: Scope, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [_decode(v) for k, v in carrier.get("headers") or () if k == name]
        return values or None

    def keys(self, carrier: Scope) -> list[str]:
        return [_decode(k) for k, _ in carrier.get("headers") or ()]


_getter = _HeaderGetter()


def request_attributes(scope: Scope) -> dict[str, Any]:
    """The server span's request attributes, as `collect_request_attributes` gives them (old
    conventions), from one pass over the headers."""
    hosts: list[bytes] = []
    user_agent: bytes | None = None
    for name, value in scope.get("headers") or ():
        if name == b"host":
            hosts.append(value)
        elif name == b"user-agent" and user_agent is None:
            user_agent = value
    server = scope.get("server") or ["0.0.0.0", 80]
    port = server[1]
    server_host = server[0] + (":" + str(port) if str(port) != "80" else "")
    url_host = _decode(hosts[0]) if hosts else server_host
    path = scope.get("path", "")
    url = scope.get("scheme", "http") + "://" + url_host + path
    query = scope.get("query_string")
    if query:
        if isinstance(query, bytes):
            query = query.decode("utf8")
        url += "?" + unquote(query)
    attributes: dict[str, Any] = {}
    scheme = scope.get("scheme")
    if scheme:
        attributes["http.scheme"] = scheme
    if server_host:
        attributes["http.host"] = server_host
    if port:
        attributes["net.host.port"] = port
    flavor = scope.get("http_version")
    if flavor:
        attributes["http.flavor"] = flavor
    if path:
        attributes["http.target"] = path
    # redact_url only changes a URL with credentials (`@`) or a query (`?`); it parses it twice
    attributes["http.url"] = redact_url(url) if ("@" in url or "?" in url) else url
    method = scope.get("method", "")
    if method:
        attributes["http.method"] = method if method in _KNOWN_METHODS else sanitize_method(method)
    if hosts:
        attributes["http.server_name"] = ",".join(_decode(h) for h in hosts)
    if user_agent is not None:
        agent = normalize_user_agent(_decode(user_agent))
        if agent:
            attributes["http.user_agent"] = agent
        synthetic = detect_synthetic_user_agent(agent)
        if synthetic:
            attributes["user_agent.synthetic.type"] = synthetic
    client = scope.get("client")
    if client is not None:
        attributes["net.peer.ip"] = client[0]
        attributes["net.peer.port"] = client[1]
    return attributes


def _route_target(scope: Scope) -> str | None:
    """The matched route's template, the duration's `http.target` (the instrumentation's choice)."""
    path_format = getattr(scope.get("route"), "path_format", None)
    return f"{scope.get('root_path', '')}{path_format}" if path_format else None


class ServerTelemetry:
    """ASGI middleware: the request's server span, its duration and the active-requests count."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        name_span: Callable[[Scope], tuple[str, dict[str, str]]] = span_details,
        excluded: re.Pattern[str] | None = EXCLUDED_PATHS,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.app = app
        self.name_span = name_span
        self.excluded = excluded
        self.tracer = trace.get_tracer(__name__, schema_url=SCHEMA_URL, tracer_provider=tracer_provider)
        meter = metrics.get_meter(__name__, schema_url=SCHEMA_URL, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            name=MetricInstruments.HTTP_SERVER_DURATION,
            unit="ms",
            description="Measures the duration of inbound HTTP requests.",
        )
        # requests in progress per attribute set, counted here and read at each metric collection: the
        # instrumentation's up-down counter cost two SDK measurements per request
        self.active: dict[tuple[Any, ...], list[Any]] = {}  # values -> [attributes, count]
        meter.create_observable_up_down_counter(
            name=HTTP_SERVER_ACTIVE_REQUESTS,
            callbacks=[self._observe_active],
            description="Number of active HTTP server requests.",
            unit="{request}",
        )

    def _observe_active(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(count, attributes) for attributes, count in list(self.active.values())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_http_instrumentation_enabled():
            await self.app(scope, receive, send)
            return
        if self.excluded is not None and self.excluded.search(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        started = timeit.default_timer()
        name, route_attributes = self.name_span(scope)
        attributes = request_attributes(scope)
        attributes.update(route_attributes)
        if trace.get_current_span() is trace.INVALID_SPAN:
            parent = propagate.extract(scope, getter=_getter)
            kind = SpanKind.SERVER
        else:
            parent = context.get_current()
            kind = SpanKind.INTERNAL
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span, parent))
        key = tuple(attributes.get(k) for k in _ACTIVE_KEYS)
        active = self.active.get(key)
        if active is None:
            # Host is the caller's: the sets are bounded as the SDK bounds a stream's
            if len(self.active) >= MAX_ACTIVE_SETS:
                key, values = _OVERFLOW, dict(_OVERFLOW)
            else:
                values = {k: attributes[k] for k in _ACTIVE_KEYS if k in attributes}
            active = self.active.setdefault(key, [values, 0])
        active[1] += 1
        recording = span.is_recording()

        async def traced_send(message: Message) -> None:
            event = message["type"]
            if event == "http.response.start":
                status = message["status"]
                attributes["http.status_code"] = status
                if recording:
                    span.set_attribute("http.status_code", status)
                    span.set_status(Status(http_status_to_status_code(status, server_span=True)))
                propagator = get_global_response_propagator()
                if propagator:
                    propagator.inject(
                        message,
                        context=trace.set_span_in_context(span, context.Context()),
                        setter=_response_setter,
                    )
            await send(message)
            if event == "http.response.body" and not message.get("more_body", False):
                span.end()

        try:
            await self.app(scope, receive, traced_send)
        finally:
            measured = {k: attributes[k] for k in _DURATION_KEYS if k in attributes}
            target = _route_target(scope)
            if target:
                measured["http.target"] = target
            elapsed_ms = max(round((timeit.default_timer() - started) * 1000), 0)
            self.duration.record(elapsed_ms, measured, context=_NO_TRACE)
            active[1] -= 1
            context.detach(token)
            if span.is_recording():
                span.end()


class _ResponseSetter:
    """Adds a response header (what the instrumentation's `asgi_setter` did)."""

    def set(self, carrier: dict, key: str, value: str) -> None:
        headers = carrier.get("headers")
        if not headers:
            headers = []
            carrier["headers"] = headers
        headers.append([key.lower().encode(), value.encode()])


_response_setter = _ResponseSetter()


class RecordExceptions:
    """Records an exception escaping the app on the current span before the 500 handler answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            span = trace.get_current_span()
            if span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise


def install_server_telemetry(
    app: FastAPI,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Wrap the app's middleware stack as the instrumentor did, with `ServerTelemetry` as the tracer:
    ServerErrorMiddleware -> ServerTelemetry -> ServerErrorMiddleware(the app's 500 handler) ->
    RecordExceptions -> the app's middleware -> routes."""
    build = app.build_middleware_stack

    def build_traced() -> ASGIApp:
        inner = build()
        if not isinstance(inner, ServerErrorMiddleware):
            logger.error("no server span: unexpected middleware stack %s", type(inner).__name__)
            return inner
        errors = ServerErrorMiddleware(
            app=RecordExceptions(inner.app), handler=inner.handler, debug=inner.debug
        )
        telemetry = ServerTelemetry(errors, tracer_provider=tracer_provider, meter_provider=meter_provider)
        return ServerErrorMiddleware(app=telemetry)

    app.build_middleware_stack = build_traced  # type: ignore[method-assign]  # as the instrumentor does: the stack is built at the first request
