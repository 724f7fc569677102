"""Administration: partners (registration, request-signing key, postback endpoint) and the reach policy
(caps, quiet hours, contact budget: proposed by one head-office admin, in force once another approves)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApi, OpsApiDep, ops_path
from console.formatting import csv_response
from console.pages.admin import crumbs
from console.templating import render, translator

router = APIRouter(prefix="/admin")
CHANNELS = ("inbox", "push", "sms", "partner")
SLUG = r"^[a-z][a-z0-9_-]{1,39}$"


async def _partners_page(
    request: Request,
    api: OpsApi,
    *,
    page_token: str = "",
    form: dict[str, str] | None = None,
    problem: ApiProblem | None = None,
    answer: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    page = await api.get("/v1/ops/partners", {"page_size": 50, "page_token": page_token})
    return await render(
        request,
        "admin/partners.html",
        title=t("admin.partners_title"),
        breadcrumb=crumbs(t, t("admin.partners_title")),
        partners=page["items"],
        next_page_token=page["next_page_token"],
        page_params={},
        form=form or {},
        problem=problem,
        errors=problem.field_errors if problem else {},
        answer=answer,
        status_code=status_code,
    )


@router.get("/partners")
async def partners(
    request: Request,
    api: OpsApiDep,
    page_token: Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9_-]*$")] = "",
    export: Annotated[str, Query(pattern=r"^(csv)?$")] = "",
) -> Response:
    if export:
        page = await api.get("/v1/ops/partners", {"page_size": 100, "page_token": page_token})
        header = ("partner_id", "name", "sector", "allowed_scopes", "postback_url")
        rows = (
            [p["partner_id"], p["name"], p["sector"], " ".join(p["allowed_scopes"]), p["postback_url"]]
            for p in page["items"]
        )
        return csv_response("partners.csv", header, rows)
    return await _partners_page(request, api, page_token=page_token)


async def _act(request: Request, api: OpsApi, call: Any, form: dict[str, str], kind: str) -> Response:
    """One registry change; its answer (with a secret shown once) or its refusal beside the form."""
    try:
        answer = await call
    except ApiProblem as problem:
        if problem.status not in (403, 404, 409, 422):
            raise
        return await _partners_page(
            request, api, form={**form, "kind": kind}, problem=problem, status_code=problem.status
        )
    return await _partners_page(request, api, answer={**answer, "kind": kind})


@router.post("/partners")
async def add_partner(request: Request, api: OpsApiDep) -> Response:
    data = await request.form()
    form = {
        k: str(data.get(k, ""))[:500]
        for k in ("partner_id", "name", "sector", "allowed_scopes", "postback_url")
    }
    body = {
        "partner_id": form["partner_id"].strip(),
        "name": form["name"],
        "sector": form["sector"],
        "allowed_scopes": form["allowed_scopes"].split(),
        "postback_url": form["postback_url"].strip() or None,
    }
    return await _act(request, api, api.post("/v1/ops/partners", body), form, "created")


@router.post("/partners/{partner_id}/signing-key")
async def rotate_partner_key(
    request: Request,
    partner_id: str,
    api: OpsApiDep,
    overlap_minutes: Annotated[int, Form(ge=0, le=7 * 24 * 60)] = 15,
) -> Response:
    path = ops_path("/v1/ops/partners/{}/signing-keys", partner_id)
    call = api.post(path, {"overlap_seconds": overlap_minutes * 60})
    return await _act(request, api, call, {"partner_id": partner_id}, "key")


@router.post("/partners/{partner_id}/postback")
async def set_postback(
    request: Request,
    partner_id: str,
    api: OpsApiDep,
    url: Annotated[str, Form(max_length=500)] = "",
    rotate_secret: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """The partner's postback endpoint (the API checks the URL against the one SSRF guard)."""
    path = ops_path("/v1/ops/conversion/partners/{}/postback", partner_id)
    call = api.put(path, {"url": url.strip(), "rotate_secret": rotate_secret == "on"})
    return await _act(request, api, call, {"partner_id": partner_id, "url": url}, "postback")


async def _policy_page(
    request: Request,
    api: OpsApi,
    *,
    form: dict[str, Any] | None = None,
    problem: ApiProblem | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    policy = await api.get("/v1/ops/reach/policy")
    pending = policy.pop("pending_proposal", None)
    rules = {r["channel"]: r for r in policy.get("channels", [])}
    if form is None:
        form = {
            "daily_contact_budget": policy.get("daily_contact_budget", 0),
            "quiet_start": policy.get("quiet_start", ""),
            "quiet_end": policy.get("quiet_end", ""),
            "quiet_channels": policy.get("quiet_channels", []),
            **{f"cap_{c}": rules.get(c, {}).get("daily_cap", 0) for c in CHANNELS},
            **{f"rate_{c}": rules.get(c, {}).get("rate_per_second", 0) for c in CHANNELS},
        }
    return await render(
        request,
        "admin/policy.html",
        title=t("admin.policy_title"),
        breadcrumb=crumbs(t, t("admin.policy_title")),
        policy=policy,
        rules=rules,
        pending=pending,
        channels=CHANNELS,
        form=form,
        problem=problem,
        errors=problem.field_errors if problem else {},
        status_code=status_code,
        own_proposal=bool(pending) and pending.get("proposed_by") == request.state.session.operator_id,
    )


@router.get("/reach-policy")
async def policy(request: Request, api: OpsApiDep) -> Response:
    return await _policy_page(request, api)


def _number(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else text


@router.post("/reach-policy")
async def propose_policy(request: Request, api: OpsApiDep) -> Response:
    """Propose a new policy; it is in force once another head-office admin approves it."""
    data = await request.form()
    form: dict[str, Any] = {k: str(v)[:20] for k, v in data.items() if k != "quiet_channels"}
    form["quiet_channels"] = [c for c in data.getlist("quiet_channels") if c in CHANNELS]
    channels = [
        {
            "channel": c,
            "daily_cap": _number(form.get(f"cap_{c}", "0")),
            "rate_per_second": _number(form.get(f"rate_{c}", "0")),
        }
        for c in CHANNELS
    ]
    body = {
        "channels": channels,
        "daily_contact_budget": _number(form.get("daily_contact_budget", "")),
        "quiet_start": form.get("quiet_start", ""),
        "quiet_end": form.get("quiet_end", ""),
        "quiet_channels": form["quiet_channels"],
    }
    try:
        await api.put("/v1/ops/reach/policy", body)
    except ApiProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        return await _policy_page(request, api, form=form, problem=problem, status_code=problem.status)
    return RedirectResponse("/admin/reach-policy", status_code=303)


@router.post("/reach-policy/proposals/{proposal_id}/approve")
async def approve_policy(request: Request, proposal_id: str, api: OpsApiDep) -> Response:
    """Four eyes: the API refuses the proposer's own approval; the refusal is shown on the page."""
    try:
        await api.post(ops_path("/v1/ops/reach/policy/proposals/{}/approve", proposal_id))
    except ApiProblem as problem:
        if problem.status not in (403, 409):
            raise
        return await _policy_page(request, api, problem=problem, status_code=problem.status)
    return RedirectResponse("/admin/reach-policy", status_code=303)
