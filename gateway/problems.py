"""RFC 9457 problem responses for every error the gateway answers, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from gateway.policies.denial import problem_type
from services.runtime.grpc_client import reason_of
from services.runtime.personal_data import scrub

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

HTTP_BY_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.CANCELLED: 503,
}
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    500: "Internal error",
    422: "Unprocessable content",
    429: "Too many requests",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class FieldError(BaseModel):
    """One invalid field of a `validation_failed` problem."""

    loc: list[str] = Field(description="where: `body`, `query`, `path` or `header`, then the field's path")
    msg: str
    type: str = Field(description="the kind of error, e.g. `missing`, `string_pattern_mismatch`")


class ProblemDocument(BaseModel):
    """The body of every error the gateway answers (`application/problem+json`, RFC 9457).

    The OpenAPI documents this one model on every error status of every route; the edge
    middleware, the personal-data guard and the exception handlers all build it through
    `problem_document`, so they cannot drift from it.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="`/problems/<code>` (absolute when PROBLEM_BASE_URL is set): a page explaining the "
        "code and its fix",
        examples=["/problems/validation_failed"],
    )
    title: str = Field(examples=["Unprocessable content"])
    status: int = Field(examples=[422])
    code: str = Field(description="stable machine-readable code", examples=["validation_failed"])
    detail: str = Field(examples=["the request is not valid"])
    instance: str = Field(description="the request's path", examples=["/v1/ops/partners"])
    request_id: str | None = Field(default=None, description="the request's `X-Request-Id`")
    trace_id: str | None = Field(
        default=None, description="the request's trace (`X-Trace-Id`): quote it to the bank's operations"
    )
    errors: list[FieldError] | None = Field(default=None, description="with `validation_failed`: each field")


def current_trace_id() -> str | None:
    """The trace id of the request being served, as 32 hex characters (None outside a trace)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def problem_document(
    scope: Scope,
    status: int,
    code: str,
    detail: str,
    *,
    request_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 body (see `ProblemDocument`); `detail` must hold no personal number."""
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    body: dict[str, Any] = {
        "type": problem_type(code, getattr(settings, "problem_base_url", "")),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail or TITLES.get(status, code),
        "instance": scrub(scope.get("path", "")),
    }
    request_id = request_id or (scope.get("state") or {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    trace_id = current_trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    body.update(extra or {})
    return body


class Problem(Exception):
    """Raise in a route or dependency to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str = "",
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str = "",
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    # a detail may quote a service's message about the input: never a personal number in it
    body = problem_document(request.scope, status, code, scrub(detail), extra=extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_from_rpc_error(error: grpc.aio.AioRpcError) -> Problem:
    status = HTTP_BY_GRPC.get(error.code(), 502)
    code = reason_of(error) or error.code().name.lower()
    if status == 502:
        logger.error("downstream failed: %s %s", error.code().name, error.details())
        return Problem(502, "downstream_error", "a downstream service failed")
    headers = {"Retry-After": "1"} if status == 503 else None
    return Problem(status, code, error.details() or "", headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.code, exc.detail, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        p = problem_from_rpc_error(exc)
        return problem_response(request, p.status, p.code, p.detail, headers=p.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            request, 422, "validation_failed", "the request is not valid", extra={"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(request, exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "internal_error", "the request could not be completed")
