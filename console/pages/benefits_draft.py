"""Drafting a benefit (权益) in a form: the API checks it, a reviewer approves and funds it (four eyes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApiDep
from console.pages.benefits import MONEY_KINDS, to_minor
from console.pages.content_slots import LOCAL_MINUTE, aware
from console.templating import render, translator

router = APIRouter(prefix="/benefits/drafts")
KINDS = ("fixed_coupon", "discount_coupon", "rate_coupon", "points", "perk")
AMOUNTS = ("face_value", "min_order_amount", "total_budget", "daily_budget")
COUNTS = ("discount_bps", "rate_bps", "valid_days", "per_customer_limit")


async def _form(request: Request, *, form: dict[str, Any], problem: ApiProblem | None) -> Response:
    t = translator(request)
    return await render(
        request,
        "benefits/draft.html",
        title=t("benefits.new_benefit"),
        breadcrumb=[(t("benefits.catalogue_title"), "/benefits"), (t("benefits.new_benefit"), None)],
        form=form,
        errors=problem.field_errors if problem else {},
        problem=problem,
        kinds=KINDS,
        status_code=problem.status if problem else 200,
    )


@router.get("/new")
async def new_benefit(request: Request, api: OpsApiDep) -> Response:
    defaults = {"kind": "fixed_coupon", "funder": "dept:retail", "usable_scopes": "app:*", "valid_days": "30"}
    return await _form(request, form=defaults, problem=None)


@router.post("")
async def draft_benefit(
    request: Request,
    api: OpsApiDep,
    benefit_id: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "fixed_coupon",
    funder: Annotated[str, Form(max_length=80)] = "",
    face_value: Annotated[str, Form(max_length=30)] = "0",
    discount_bps: Annotated[str, Form(max_length=10)] = "0",
    rate_bps: Annotated[str, Form(max_length=10)] = "0",
    min_order_amount: Annotated[str, Form(max_length=30)] = "0",
    total_budget: Annotated[str, Form(max_length=30)] = "0",
    daily_budget: Annotated[str, Form(max_length=30)] = "0",
    usable_scopes: Annotated[str, Form(max_length=1000)] = "",
    valid_until: Annotated[str, Form(pattern=LOCAL_MINUTE)] = "",
    valid_days: Annotated[str, Form(max_length=10)] = "0",
    per_customer_limit: Annotated[str, Form(max_length=10)] = "0",
    claimable: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Draft for the operator's own scope (a branch operator's benefit belongs to its branch)."""
    form: dict[str, Any] = {
        "benefit_id": benefit_id, "name": name, "kind": kind, "funder": funder, "face_value": face_value,
        "discount_bps": discount_bps, "rate_bps": rate_bps, "min_order_amount": min_order_amount,
        "total_budget": total_budget, "daily_budget": daily_budget, "usable_scopes": usable_scopes,
        "valid_until": valid_until, "valid_days": valid_days, "per_customer_limit": per_customer_limit,
        "claimable": claimable,
    }  # fmt: skip
    unit = kind if kind in MONEY_KINDS else "points"
    body: dict[str, Any] = {
        "benefit_id": benefit_id,
        "name": name,
        "kind": kind,
        "funder": funder,
        "usable_scopes": [s.strip() for s in usable_scopes.split(",") if s.strip()],
        "claimable": bool(claimable),
        **{k: to_minor(form[k], unit) for k in AMOUNTS},
        **{k: to_minor(form[k], "points") for k in COUNTS},
    }
    if valid_until:
        body["valid_until"] = aware(valid_until)
    session = request.state.session
    if session.branch:
        body["branch"] = session.branch
    try:
        created = await api.post("/v1/ops/benefits", body)
    except ApiProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        return await _form(request, form=form, problem=problem)
    return RedirectResponse(f"/benefits/{created['benefit_id']}", status_code=303)
