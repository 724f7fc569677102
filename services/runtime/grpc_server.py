"""gRPC server bootstrap: grpc.aio, health, reflection, deadlines, domain errors -> status codes."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import metrics
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
meter = metrics.get_meter("lattice.grpc")

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


class ServingInterceptor(grpc.aio.ServerInterceptor):
    """Admits only declared callers, records the caller's deadline, maps domain errors to status
    codes, and measures RPCs."""

    def __init__(self, policy: CallerPolicy, identity: ServiceIdentity) -> None:
        self._policy = policy
        self._verifier = AssertionVerifier(identity.ca_certificate)
        self._duration = meter.create_histogram(
            "rpc.server.duration", unit="s", description="Duration of served RPCs"
        )

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]  # grpc.aio's generic handler hooks take untyped continuations
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = handler_call_details.method
        duration = self._duration
        allowed = self._policy.allowed(method)
        assertion = next(
            (v for k, v in handler_call_details.invocation_metadata or () if k == METADATA_KEY), None
        )
        verifier = self._verifier

        async def serve(request, context: grpc.aio.ServicerContext[Any, Any]):  # type: ignore[no-untyped-def]  # grpc.aio's generic handler hooks take untyped continuations
            caller = peer_identity(context)
            if caller is None:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no verified service identity")
            if caller not in allowed:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{caller} may not call {method}")
            refusal = on_behalf_refusal(request, caller=caller, assertion=assertion, verifier=verifier)
            if refusal is not None:
                await context.abort(*refusal)
            remaining = context.time_remaining()
            token = current_deadline.set(time.monotonic() + remaining if remaining is not None else None)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                result = inner(request, context)
                return await result if inspect.isawaitable(result) else result
            except DomainError as exc:
                code = STATUS_BY_KIND.get(exc.kind, grpc.StatusCode.FAILED_PRECONDITION)
                context.set_trailing_metadata(error_metadata(exc, code))
                await context.abort(code, exc.detail)
            except DBAPIError as exc:
                if not is_retryable(exc):
                    raise
                code = grpc.StatusCode.UNAVAILABLE
                context.set_trailing_metadata(((REASON_KEY, "database_busy"),))
                await context.abort(code, "the database is busy; retry the request")
            finally:
                current_deadline.reset(token)
                duration.record(
                    time.perf_counter() - started, {"rpc.method": method, "rpc.grpc.status_code": code.name}
                )

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
