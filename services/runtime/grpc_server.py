"""gRPC server bootstrap: grpc.aio, health, reflection, deadlines, domain errors -> status codes."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import metrics
from sqlalchemy.exc import DBAPIError

from services.runtime.db import is_retryable
from services.runtime.deadlines import current_deadline
from services.runtime.errors import DomainError

logger = logging.getLogger(__name__)
meter = metrics.get_meter("lattice.grpc")

REASON_KEY = "lattice-reason"
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


class ServingInterceptor(grpc.aio.ServerInterceptor):
    """Records the caller's deadline, maps domain errors to status codes, and measures RPCs."""

    def __init__(self) -> None:
        self._duration = meter.create_histogram(
            "rpc.server.duration", unit="s", description="Duration of served RPCs"
        )

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = handler_call_details.method
        duration = self._duration

        async def serve(request, context: grpc.aio.ServicerContext):  # type: ignore[no-untyped-def]
            remaining = context.time_remaining()
            token = current_deadline.set(time.monotonic() + remaining if remaining is not None else None)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                result = inner(request, context)
                return await result if inspect.isawaitable(result) else result
            except DomainError as exc:
                code = STATUS_BY_KIND.get(exc.kind, grpc.StatusCode.FAILED_PRECONDITION)
                context.set_trailing_metadata(((REASON_KEY, exc.reason),))
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


def build_server() -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A grpc.aio server with the standard health service."""
    server = grpc.aio.server(
        interceptors=[ServingInterceptor()],
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
