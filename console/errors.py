"""Every failure as a page (or an htmx fragment) with its code and trace link; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.api import ApiProblem
from console.security import CsrfRefused
from console.session import SignInRequired
from console.templating import is_htmx, render, render_fragment

logger = logging.getLogger(__name__)

MESSAGES_BY_CODE = {"csrf_token_invalid": "errors.csrf", "internal_error": "errors.internal"}
MESSAGES = {401: "errors.forbidden", 403: "errors.forbidden", 404: "errors.not_found", 422: "errors.invalid"}


def safe_next(path: str | None) -> str:
    """A local path to return to after sign-in (never another site)."""
    if (
        not path
        or not path.startswith("/")
        or path.startswith(("//", "/\\"))
        or any(c in path for c in "\r\n")
    ):
        return "/"
    return path


async def problem_page(request: Request, problem: ApiProblem) -> Response:
    """The API's refusal (or the console's own) as a page with its status, code, detail and trace link."""
    if problem.trace_id and problem.trace_id not in request.state.trace_ids:
        request.state.trace_ids.append(problem.trace_id)
    message = MESSAGES_BY_CODE.get(problem.code) or MESSAGES.get(
        problem.status, "errors.unavailable" if problem.status >= 500 else "errors.invalid"
    )
    context: dict[str, Any] = {"problem": problem, "message_key": message}
    if is_htmx(request):
        return render_fragment(request, "partials/problem.html", status_code=problem.status, **context)
    return await render(request, "errors/problem.html", title="", status_code=problem.status, **context)


def sign_in_redirect(request: Request) -> Response:
    target = "/sign-in"
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if safe_next(path) != "/":
            target = f"/sign-in?{urlencode({'next': path})}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def unexpected_error_page(request: Request) -> Response:
    return await problem_page(request, ApiProblem(500, "internal_error", ""))


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> Response:
        return await problem_page(request, exc)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        logger.warning("refused a %s to %s without a valid CSRF token", request.method, request.url.path)
        return await problem_page(request, ApiProblem(403, "csrf_token_invalid", ""))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return await problem_page(request, ApiProblem(422, "validation_failed", "", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if getattr(request.state, "session", None) is None:  # /static/: no session to render a page with
            return PlainTextResponse(code, status_code=exc.status_code)
        return await problem_page(request, ApiProblem(exc.status_code, code, ""))
