"""gRPC client channels: every call gets a deadline, never later than the caller's own, carries the
principal it acts for, and is traced."""

from __future__ import annotations

import time
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry import propagate, trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AttributeValue

from services.runtime.deadlines import current_deadline
from services.runtime.on_behalf import METADATA_KEY, acting
from services.runtime.pki import ServiceIdentity

M = TypeVar("M", bound=Message)


TRACER_NAME = "lattice.grpc"
# Calls left out of traces (as the OpenTelemetry gRPC instrumentation's health-check filter did).
UNTRACED_SERVICES = ("grpc.health.v1.Health",)


def _no_time_left() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="no time left for a downstream call",
    )


class CallInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """The one interceptor of every runtime channel, for each unary call:

    - a timeout: the channel's default, shrunk to the time left of the request being served;
    - the on-behalf-of assertion of the principal the current request acts for;
    - a client span (the name, attributes and status rules of OpenTelemetry's gRPC client
      instrumentation, which is not installed) whose context travels in the call's metadata.

    One interceptor rather than three (deadline, assertion, tracing): grpc.aio wraps the call once
    per interceptor, and the per-method attributes are worked out once.
    """

    def __init__(
        self,
        identity: ServiceIdentity,
        default_timeout_s: float,
        *,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self._identity = identity
        self._default = default_timeout_s
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self._methods: dict[str, tuple[str, dict[str, AttributeValue] | None]] = {}

    def _method(self, method: str | bytes) -> tuple[str, dict[str, AttributeValue] | None]:
        """The method's name as a string and its span attributes (None: not traced)."""
        key = method.decode() if isinstance(method, bytes) else method  # grpc/grpc#31092: bytes at times
        found = self._methods.get(key)
        if found is None:
            service, _, name = key.lstrip("/").partition("/")
            attributes: dict[str, AttributeValue] = {
                "rpc.system": "grpc",
                "rpc.grpc.status_code": grpc.StatusCode.OK.value[0],
                "rpc.method": name,
                "rpc.service": service,
            }
            found = self._methods[key] = (key, None if service in UNTRACED_SERVICES else attributes)
        return found

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]  # grpc.aio's interceptor hooks take untyped call details
        name, attributes = self._method(client_call_details.method)
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        current = acting.get()
        if current is not None:
            metadata.add(METADATA_KEY, current.token(self._identity))
        span = None
        if attributes is not None:
            span = self._tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=dict(attributes))
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            for key, value in carrier.items():
                metadata.add(key, value)
        try:
            timeout = client_call_details.timeout or self._default
            deadline = current_deadline.get()
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise _no_time_left()
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                timeout,
                metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
            call = await continuation(details, request)
            if span is not None:
                code = await call.code()
                if code != grpc.StatusCode.OK:
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    span.set_status(Status(StatusCode.ERROR, await call.details()))
            return call
        except grpc.aio.AioRpcError as exc:
            if span is not None:
                span.set_attribute("rpc.grpc.status_code", exc.code().value[0])
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                span.record_exception(exc)
            raise
        finally:
            if span is not None:
                span.end()


def channel_options(peer: str) -> list[tuple[str, object]]:
    """The server must present `peer`'s certificate, whatever address it is reached at."""
    return [("grpc.ssl_target_name_override", peer)]


def open_channel(
    addr: str, *, peer: str, identity: ServiceIdentity, default_timeout_s: float = 5.0
) -> grpc.aio.Channel:
    """A mutual-TLS channel to service `peer` as `identity`, with deadlines enforced."""
    return grpc.aio.secure_channel(
        addr,
        identity.channel_credentials,
        interceptors=[CallInterceptor(identity, default_timeout_s)],
        options=[
            *channel_options(peer),
            ("grpc.lb_policy_name", "round_robin"),
            ("grpc.enable_retries", 1),
            # reconnect to a restarted peer within seconds (gRPC's default backoff grows to 120 s)
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ],
    )


def open_sync_channel(addr: str, *, peer: str, identity: ServiceIdentity) -> grpc.Channel:
    """A blocking mutual-TLS channel (health probes, Kong's plugin servers)."""
    return grpc.secure_channel(addr, identity.channel_credentials, options=channel_options(peer))


def error_details(error: grpc.aio.AioRpcError, message_type: type[M]) -> M | None:
    """The structured detail of type `message_type` a service attached to a failed call, or None."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(message_type.DESCRIPTOR):
                    message = message_type()
                    detail.Unpack(message)
                    return message
    return None


def reason_of(error: grpc.aio.AioRpcError) -> str:
    """The `lattice-reason` code a service attached to a failed call, or ''."""
    for key, value in error.trailing_metadata() or ():
        if key == "lattice-reason":
            return str(value)
    return ""
