"""gRPC client channels: every call gets a deadline, never later than the caller's own."""

from __future__ import annotations

import time
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc import status_pb2

from services.runtime.deadlines import current_deadline
from services.runtime.on_behalf import METADATA_KEY, acting
from services.runtime.pki import ServiceIdentity

M = TypeVar("M", bound=Message)


class DeadlineInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Sets a default timeout and shrinks it to the time left of the request being served."""

    def __init__(self, default_timeout_s: float) -> None:
        self._default = default_timeout_s

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]  # grpc.aio's interceptor hooks take untyped call details
        timeout = client_call_details.timeout or self._default
        deadline = current_deadline.get()
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details="no time left for a downstream call",
            )
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            timeout,
            client_call_details.metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


class OnBehalfInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Attaches the assertion of the principal the current request acts for (signed once per request)."""

    def __init__(self, identity: ServiceIdentity) -> None:
        self._identity = identity

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]  # grpc.aio's interceptor hooks take untyped call details
        current = acting.get()
        if current is None:
            return await continuation(client_call_details, request)
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        metadata.add(METADATA_KEY, current.token(self._identity))
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


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
        interceptors=[DeadlineInterceptor(default_timeout_s), OnBehalfInterceptor(identity)],
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
