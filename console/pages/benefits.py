"""Benefits (权益): the catalogue, a budget burn-down and lifecycle with reasons, the ledger check."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApiDep, ops_path
from console.formatting import csv_response, local_time, money
from console.nav import NavEntry
from console.pages.content_slots import LOCAL_MINUTE, aware
from console.sorting import Sort, SortedPageToken
from console.templating import render, translator

router = APIRouter(prefix="/benefits")
NAV = [
    NavEntry(label="benefits.nav_catalogue", path="/benefits", order=10, section="benefits"),
    NavEntry(
        label="benefits.nav_ledger", path="/benefits/ledger", order=30, section="benefits", roles=("admin",)
    ),
]
STATUSES = ("draft", "approved", "rejected", "paused", "stopped")
MONEY_KINDS = ("fixed_coupon", "discount_coupon", "rate_coupon")
DAY = r"^(\d{4}-\d{2}-\d{2})?$"


def amount(value: int | None, kind: str, t: Any) -> str:
    """An amount in the benefit's unit: money for coupons, points, or uses of a perk."""
    if value is None:
        return ""
    if kind in MONEY_KINDS:
        return money(value, "CNY")
    return t("benefits.unit_points" if kind == "points" else "benefits.unit_uses", n=f"{value:,}")


def to_minor(text: str, kind: str) -> int | str:
    """What was typed (yuan for coupons) in the API's integer unit; the text itself when unreadable."""
    try:
        value = Decimal(text.strip().replace(",", "") or "0")
    except InvalidOperation:
        return text
    minor = value * 100 if kind in MONEY_KINDS else value
    return int(minor) if minor == minor.to_integral_value() else text


@router.get("")
async def catalogue(
    request: Request,
    api: OpsApiDep,
    status: Annotated[str, Query(pattern=r"^(draft|approved|rejected|paused|stopped)?$")] = "",
    page_token: SortedPageToken = "",
    sort: Sort = "",
    export: Annotated[str, Query(pattern=r"^(csv)?$")] = "",
) -> Response:
    page = await api.get("/v1/ops/benefits", {"status": status, "sort": sort, "page_token": page_token})
    benefits = page["items"]
    t = translator(request)
    if export:
        return csv_response(
            "benefits.csv",
            [
                "benefit_id",
                "name",
                "kind",
                "funder",
                "branch",
                "status",
                "face_value",
                "total_budget",
                "daily_budget",
                "budget_remaining",
                "valid_until",
            ],
            (
                [
                    b["benefit_id"],
                    b["name"],
                    b["kind"],
                    b["funder"],
                    b["branch"] or "",
                    b["status"],
                    b["face_value"],
                    b["total_budget"],
                    b["daily_budget"],
                    b["budget_remaining"],
                    local_time(b["valid_until"]),
                ]
                for b in benefits
            ),
        )
    return await render(
        request,
        "benefits/catalogue.html",
        title=t("benefits.catalogue_title"),
        breadcrumb=[(t("nav.section_benefits"), None), (t("benefits.catalogue_title"), None)],
        benefits=benefits,
        amount=lambda value, kind: amount(value, kind, t),
        status=status,
        statuses=STATUSES,
        sort=sort,
        next_page_token=page["next_page_token"],
        page_params={"status": status, "sort": sort},
    )


def burndown_chart(burndown: dict[str, Any], kind: str, t: Any) -> dict[str, Any]:
    """Remaining budget as a line, spending per day as bars against the daily budget (major units)."""
    scale = 100 if kind in MONEY_KINDS else 1
    days = [d["day"] for d in burndown["days"]]
    spent: dict[str, Any] = {
        "name": t("benefits.spent"),
        "type": "bar",
        "barMaxWidth": 32,
        "yAxisIndex": 1,
        "data": [d["spent"] / scale for d in burndown["days"]],
    }
    if burndown["daily_budget"]:
        spent["markLine"] = {
            "symbol": "none",
            "data": [{"yAxis": burndown["daily_budget"] / scale, "name": t("benefits.daily_budget")}],
        }
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "data": [t("benefits.remaining"), t("benefits.spent")]},
        "grid": {"left": 8, "right": 8, "top": 48, "bottom": 24, "containLabel": True},
        "xAxis": {"type": "category", "data": days},
        "yAxis": [
            {"type": "value", "name": t("benefits.remaining")},
            {"type": "value", "name": t("benefits.spent")},
        ],
        "series": [
            {
                "name": t("benefits.remaining"),
                "type": "line",
                "data": [d["remaining"] / scale for d in burndown["days"]],
            },
            spent,
        ],
    }


async def _detail(
    request: Request,
    api: OpsApiDep,
    benefit_id: str,
    *,
    start: str = "",
    end: str = "",
    form: dict[str, str] | None = None,
    problem: ApiProblem | None = None,
    which: str = "",
) -> Response:
    benefit = await api.get(ops_path("/v1/ops/benefits/{}", benefit_id))
    burndown = await api.get(ops_path("/v1/ops/benefits/{}/burndown", benefit_id), {"from": start, "to": end})
    changes = await api.get_all(ops_path("/v1/ops/benefits/{}/changes", benefit_id))
    audit = await api.get_all(ops_path("/v1/ops/benefits/{}/audit", benefit_id))
    t = translator(request)
    names = {"top_up": "top_up_reason", "extend": "extend_reason"}
    errors = {
        (names.get(which, k) if k == "reason" else k): v
        for k, v in (problem.field_errors if problem else {}).items()
    }
    return await render(
        request,
        "benefits/detail.html",
        title=t("benefits.detail_title", name=benefit["name"]),
        breadcrumb=[(t("benefits.catalogue_title"), "/benefits"), (benefit["benefit_id"], None)],
        b=benefit,
        burndown=burndown,
        chart=burndown_chart(burndown, benefit["kind"], t),
        amount=lambda value: amount(value, benefit["kind"], t),
        money_kind=benefit["kind"] in MONEY_KINDS,
        changes=sorted(changes, key=lambda c: c["requested_at"] or "", reverse=True),
        audit=audit,
        start=start or (burndown["days"][0]["day"] if burndown["days"] else ""),
        end=end,
        form=form or {},
        errors=errors,
        problem=problem,
        which=which,
        status_code=problem.status if problem else 200,
    )


@router.get("/ledger")
async def ledger_check(request: Request, api: OpsApiDep) -> Response:
    report = await api.get("/v1/ops/benefits-ledger/check")
    t = translator(request)
    return await render(
        request,
        "benefits/ledger.html",
        title=t("benefits.ledger_title"),
        breadcrumb=[(t("nav.section_benefits"), None), (t("benefits.ledger_title"), None)],
        report=report,
    )


@router.get("/{benefit_id}")
async def benefit_detail(
    request: Request,
    benefit_id: str,
    api: OpsApiDep,
    start: Annotated[str, Query(alias="from", pattern=DAY)] = "",
    end: Annotated[str, Query(alias="to", pattern=DAY)] = "",
) -> Response:
    return await _detail(request, api, benefit_id, start=start, end=end)


@router.get("/{benefit_id}/burndown.csv")
async def burndown_csv(
    benefit_id: str,
    api: OpsApiDep,
    start: Annotated[str, Query(alias="from", pattern=DAY)] = "",
    end: Annotated[str, Query(alias="to", pattern=DAY)] = "",
) -> Response:
    burndown = await api.get(ops_path("/v1/ops/benefits/{}/burndown", benefit_id), {"from": start, "to": end})
    return csv_response(
        f"burndown-{benefit_id}.csv",
        ["day", "added", "spent", "remaining", "daily_budget", "total_budget"],
        (
            [
                d["day"],
                d["added"],
                d["spent"],
                d["remaining"],
                burndown["daily_budget"],
                burndown["total_budget"],
            ]
            for d in burndown["days"]
        ),
    )


async def _act(
    request: Request,
    api: OpsApiDep,
    benefit_id: str,
    path: str,
    body: dict[str, Any],
    form: dict[str, str],
    which: str,
) -> Response:
    """Send one lifecycle request; a refusal re-renders the page with the error beside the form."""
    try:
        await api.post(ops_path("/v1/ops/benefits/{}/" + path, benefit_id), body)
    except ApiProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        return await _detail(request, api, benefit_id, form=form, problem=problem, which=which)
    return RedirectResponse(f"/benefits/{ops_path('{}', benefit_id)}", status_code=303)


@router.post("/{benefit_id}/state")
async def change_state(
    request: Request,
    benefit_id: str,
    api: OpsApiDep,
    action: Annotated[str, Form(pattern=r"^(pause|resume|stop)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Pause, resume or stop at once, with the reason the audit keeps."""
    return await _act(request, api, benefit_id, action, {"reason": reason}, {"reason": reason}, "state")


@router.post("/{benefit_id}/top-up")
async def request_top_up(
    request: Request,
    benefit_id: str,
    api: OpsApiDep,
    kind: Annotated[str, Form(max_length=20)],
    total_budget_increase: Annotated[str, Form(max_length=30)] = "0",
    daily_budget: Annotated[str, Form(max_length=30)] = "0",
    top_up_reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Ask for more budget (in yuan for coupons); it takes effect when another operator approves."""
    body = {
        "total_budget_increase": to_minor(total_budget_increase, kind),
        "daily_budget": to_minor(daily_budget, kind),
        "reason": top_up_reason,
    }
    form = {
        "total_budget_increase": total_budget_increase,
        "daily_budget": daily_budget,
        "top_up_reason": top_up_reason,
    }
    return await _act(request, api, benefit_id, "top-ups", body, form, "top_up")


@router.post("/{benefit_id}/extend")
async def request_extension(
    request: Request,
    benefit_id: str,
    api: OpsApiDep,
    valid_until: Annotated[str, Form(pattern=LOCAL_MINUTE)] = "",
    extend_reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Ask to move the end date (Asia/Shanghai); it takes effect when another operator approves."""
    body = {"valid_until": aware(valid_until), "reason": extend_reason}
    form = {"valid_until": valid_until, "extend_reason": extend_reason}
    return await _act(request, api, benefit_id, "extensions", body, form, "extend")
