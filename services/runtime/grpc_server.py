"""gRPC server bootstrap: grpc.aio, health, reflection, deadlines, domain errors -> status codes."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AttributeValue
from sqlalchemy.exc import DBAPIError

from services.runtime.callers import CallerPolicy, peer_identity
from services.runtime.db import is_retryable
from services.runtime.deadlines import current_deadline
from services.runtime.errors import DomainError
from services.runtime.on_behalf import (
    ASSERTING,
    METADATA_KEY,
    AssertionRefused,
    AssertionVerifier,
    carriers,
    disagreements,
)
from services.runtime.pki import ServiceIdentity

logger = logging.getLogger(__name__)
METER_NAME = TRACER_NAME = "lattice.grpc"
meter = metrics.get_meter(METER_NAME)

REASON_KEY = "lattice-reason"
STATUS_DETAILS_KEY = "grpc-status-details-bin"  # google.rpc.Status, as grpcio-status reads it
STATUS_BY_KIND = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "already_exists": grpc.StatusCode.ALREADY_EXISTS,
    "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
    "resource_exhausted": grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def error_metadata(exc: DomainError, code: grpc.StatusCode) -> tuple[tuple[str, str | bytes], ...]:
    """The trailers of a refused call: its reason, and its structured details when it has some."""
    if exc.details is None:
        return ((REASON_KEY, exc.reason),)
    detail = any_pb2.Any()
    detail.Pack(exc.details)
    status = status_pb2.Status(code=code.value[0], message=exc.detail, details=[detail])
    return ((REASON_KEY, exc.reason), (STATUS_DETAILS_KEY, status.SerializeToString()))


# Calls left out of traces (as the OpenTelemetry gRPC instrumentation's health-check filter did).
UNTRACED_SERVICES = ("grpc.health.v1.Health",)
# Span status ERROR for these codes only (the OpenTelemetry gRPC semantic conventions for servers).
SERVER_ERROR_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


@dataclass
class _Method:
    """What a method's calls share, worked out on its first call."""

    path: str
    allowed: frozenset[str]
    traced: bool
    attributes: dict[str, AttributeValue]  # the span's, before the per-call peer attributes
    _metric_attributes: dict[grpc.StatusCode, dict[str, str]] = field(default_factory=dict)

    def metric_attributes(self, code: grpc.StatusCode) -> dict[str, str]:
        found = self._metric_attributes.get(code)
        if found is None:
            found = self._metric_attributes[code] = {
                "rpc.method": self.path,
                "rpc.grpc.status_code": code.name,
            }
        return found


def _peer_attributes(peer: str) -> dict[str, AttributeValue]:
    """net.peer.* of a grpc peer string (ipv4:127.0.0.1:57284, ipv6:[::1]:57284), as OpenTelemetry's."""
    if peer.startswith("unix:"):
        return {}
    try:
        ip, port = peer.split(",")[0].split(":", 1)[1].rsplit(":", 1)
    except (IndexError, ValueError):
        return {}
    ip = unquote(ip)
    if ip in ("[::1]", "127.0.0.1"):
        return {"net.peer.ip": ip, "net.peer.port": port, "net.peer.name": "localhost"}
    return {"net.peer.ip": ip, "net.peer.port": port}


class ServingInterceptor(grpc.aio.ServerInterceptor):
    """The one interceptor of every service: the server span (trace context from the caller's
    metadata), the caller check on the verified certificate, the on-behalf-of assertion, the caller's
    deadline, domain errors -> status codes, and the duration metric.

    Everything that depends only on the method (its allowed callers, its span and metric attributes,
    the wrapped handler itself) is worked out on its first call and reused; per call remain one pass
    over the metadata, the certificate's identity, the span and the metric.
    """

    def __init__(
        self,
        policy: CallerPolicy,
        identity: ServiceIdentity,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        """The global tracer and meter providers (`setup_telemetry`) unless others are given (tests)."""
        self._policy = policy
        self._verifier = AssertionVerifier(identity.ca_certificate)
        own_meter = (
            meter if meter_provider is None else metrics.get_meter(METER_NAME, meter_provider=meter_provider)
        )
        self._duration = own_meter.create_histogram(
            "rpc.server.duration", unit="s", description="Duration of served RPCs"
        )
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        # the metadata keys the configured propagator reads (traceparent, tracestate, baggage...)
        self._trace_keys = frozenset(propagate.get_global_textmap().fields)

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]  # grpc.aio's generic handler hooks take untyped continuations
        method = handler_call_details.method
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = self._handlers[method] = self._wrap(method, handler)
        return wrapped

    def _method(self, path: str) -> _Method:
        service, _, name = path.lstrip("/").partition("/")
        return _Method(
            path=path,
            allowed=self._policy.allowed(path),
            traced=service not in UNTRACED_SERVICES,
            attributes={
                "rpc.system": "grpc",
                "rpc.grpc.status_code": grpc.StatusCode.OK.value[0],
                "rpc.method": name,
                "rpc.service": service,
            },
        )

    def _wrap(self, path: str, handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        inner: Any = (
            handler.unary_unary
        )  # the servicer's method (sync or async), called with grpc.aio's context
        method = self._method(path)
        duration, verifier, tracer, trace_keys = (
            self._duration,
            self._verifier,
            self._tracer,
            self._trace_keys,
        )
        allowed = method.allowed
        is_async = inspect.iscoroutinefunction(inner)

        async def serve(request, context: grpc.aio.ServicerContext[Any, Any]):  # type: ignore[no-untyped-def]  # grpc.aio's generic handler hooks take untyped continuations
            assertion: str | bytes | None = None
            carrier: dict[str, str] | None = None
            user_agent: str | None = None
            for key, value in context.invocation_metadata() or ():
                if key == METADATA_KEY:
                    assertion = value
                elif key in trace_keys:
                    if carrier is None:
                        carrier = {}
                    carrier[key] = str(value)
                elif key == "user-agent":
                    user_agent = str(value)
            span = token = None
            if method.traced:
                parent = propagate.extract(carrier) if carrier is not None else None
                attributes = {**method.attributes, **_peer_attributes(context.peer())}
                if user_agent is not None:
                    attributes["rpc.user_agent"] = user_agent
                span = tracer.start_span(
                    path, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
                )
                token = otel_context.attach(trace.set_span_in_context(span, parent))
            code = grpc.StatusCode.OK
            try:
                caller = peer_identity(context)
                if caller is None:
                    code = grpc.StatusCode.UNAUTHENTICATED
                    await context.abort(code, "no verified service identity")
                if caller not in allowed:
                    code = grpc.StatusCode.PERMISSION_DENIED
                    await context.abort(code, f"{caller} may not call {path}")
                refusal = on_behalf_refusal(request, caller=caller, assertion=assertion, verifier=verifier)
                if refusal is not None:
                    code = refusal[0]
                    await context.abort(*refusal)
                remaining = context.time_remaining()
                deadline = current_deadline.set(
                    time.monotonic() + remaining if remaining is not None else None
                )
                started = time.perf_counter()
                try:
                    if is_async:
                        return await inner(request, context)
                    result = inner(request, context)
                    return await result if inspect.isawaitable(result) else result
                except DomainError as exc:
                    code = STATUS_BY_KIND.get(exc.kind, grpc.StatusCode.FAILED_PRECONDITION)
                    context.set_trailing_metadata(error_metadata(exc, code))
                    await context.abort(code, exc.detail)
                except DBAPIError as exc:
                    if not is_retryable(exc):
                        code = grpc.StatusCode.UNKNOWN
                        raise
                    code = grpc.StatusCode.UNAVAILABLE
                    context.set_trailing_metadata(((REASON_KEY, "database_busy"),))
                    await context.abort(code, "the database is busy; retry the request")
                except grpc.aio.AbortError:  # the servicer aborted the call itself
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except asyncio.CancelledError:
                    code = grpc.StatusCode.CANCELLED
                    raise
                except Exception:
                    code = grpc.StatusCode.UNKNOWN  # as grpc answers an unexpected exception
                    raise
                finally:
                    current_deadline.reset(deadline)
                    duration.record(time.perf_counter() - started, method.metric_attributes(code))
            except grpc.aio.AbortError:
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED  # the caller went away or its deadline passed
                raise
            except Exception as exc:
                code = grpc.StatusCode.UNKNOWN  # as grpc answers an unexpected exception
                if span is not None:
                    span.record_exception(exc)
                raise
            finally:
                if span is not None:
                    if code is not grpc.StatusCode.OK:
                        span.set_attribute("rpc.grpc.status_code", code.value[0])
                        if code in SERVER_ERROR_CODES:
                            span.set_status(Status(StatusCode.ERROR, f"{code}:{context.details() or ''}"))
                    span.end()
                    otel_context.detach(token)  # type: ignore[arg-type]  # set whenever span is

        return grpc.unary_unary_rpc_method_handler(
            serve,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def on_behalf_refusal(
    request: object, *, caller: str, assertion: str | bytes | None, verifier: AssertionVerifier
) -> tuple[grpc.StatusCode, str] | None:
    """Why a request's principal is not believed (status, detail), or None when it is."""
    if assertion is None:
        acts_for_someone = any(getattr(c, "kind", "") != "service" for c in carriers(request))  # type: ignore[arg-type]  # requests are any generated message; the carriers are read by field name
        if caller in ASSERTING and acts_for_someone:
            return grpc.StatusCode.UNAUTHENTICATED, "the principal must travel as an on-behalf-of assertion"
        return None
    try:
        principal = verifier.verify(assertion if isinstance(assertion, str) else assertion.decode())
    except AssertionRefused as exc:
        return grpc.StatusCode.UNAUTHENTICATED, str(exc)
    wrong = disagreements(request, principal)  # type: ignore[arg-type]  # requests are any generated message; the carriers are read by field name
    if wrong:
        return (
            grpc.StatusCode.PERMISSION_DENIED,
            f"fields disagree with the asserted principal: {', '.join(wrong)}",
        )
    return None


def build_server(
    policy: CallerPolicy, identity: ServiceIdentity
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A grpc.aio server with the standard health service, admitting the callers `policy` declares."""
    server = grpc.aio.server(
        interceptors=[ServingInterceptor(policy, identity)],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 4 * 1024 * 1024)],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server, health_servicer


def enable_reflection(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )


async def set_serving(
    health_servicer: health.aio.HealthServicer, service_names: Iterable[str], serving: bool
) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ["", *service_names]:
        await health_servicer.set(name, status)
