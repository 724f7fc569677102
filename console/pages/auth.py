"""Sign-in and sign-out (operator id + secret for the operator token) and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, sign_in
from console.errors import safe_next
from console.i18n import LANGUAGES
from console.templating import render, translator

router = APIRouter()

OperatorId = Annotated[str, Form(max_length=64)]
Secret = Annotated[str, Form(max_length=200)]


async def _form(
    request: Request, *, operator_id: str = "", next_path: str = "/", error: str = "", status_code: int = 200
) -> Response:
    t = translator(request)
    session = request.state.session
    notice, session.notice = session.notice, ""
    if not notice and request.query_params.get("signed_out"):
        notice = "auth.signed_out"
    return await render(
        request,
        "auth/sign_in.html",
        title=t("auth.sign_in"),
        status_code=status_code,
        operator_id=operator_id,
        next_path=next_path,
        error=error,
        notice=notice,
    )


@router.get("/sign-in")
async def sign_in_page(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    session = request.state.session
    if session.signed_in:
        return RedirectResponse(safe_next(next), status_code=303)
    # an operator whose token ran out confirms the secret: their id is filled in
    return await _form(request, operator_id=session.operator_id, next_path=safe_next(next))


@router.post("/sign-in")
async def sign_in_submit(
    request: Request,
    operator_id: OperatorId = "",
    secret: Secret = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """A new session id on success (no fixation); on failure the form again, keeping only the id."""
    operator_id = operator_id.strip()
    if not operator_id or not secret:
        return await _form(
            request,
            operator_id=operator_id,
            next_path=safe_next(next),
            error="auth.required",
            status_code=422,
        )
    store = request.app.state.sessions
    session = await store.rotate(request.state.session)
    request.state.session = session
    try:
        await sign_in(request.app.state.http, session, operator_id, secret, request.state.trace_ids)
    except ApiProblem as problem:
        if problem.status >= 500:
            raise
        return await _form(
            request,
            operator_id=operator_id,
            next_path=safe_next(next),
            error="auth.failed",
            status_code=401 if problem.status in (401, 403, 422) else problem.status,
        )
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    store = request.app.state.sessions
    language = request.state.session.language
    await store.drop(request.state.session.id)
    request.state.session = await store.new(language=language)
    return RedirectResponse("/sign-in?signed_out=1", status_code=303)


@router.post("/language")
async def switch_language(
    request: Request,
    language: Annotated[str, Form(max_length=10)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if language in LANGUAGES:
        request.state.session.language = language
    return RedirectResponse(safe_next(next), status_code=303)
