"""Conversion (转化): campaigns, links (create, copy), funnels over time, postbacks and their re-sends."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApi, OpsApiDep, ops_path
from console.formatting import BANK_ZONE, csv_response, money
from console.nav import NavEntry
from console.sorting import Sort, SortedPageToken
from console.templating import render, translator

router = APIRouter(prefix="/conversion")
CAMPAIGNS = "/v1/ops/conversion/campaigns"
POSTBACKS = "/v1/ops/conversion/postbacks"
STEPS = ("clicks", "landings", "linked", "acquired", "activated", "upgraded")
MILESTONES = ("linked", "activated", "upgraded")
FORM_FIELDS = (
    "campaign_id", "partner_id", "name", "target_app_id", "landing_url", "lookback_days",
    "conversion_window_days", "cpa_amount", "currency", "commission_milestone",
)  # fmt: skip
Day = Annotated[str, Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]
Slug = Annotated[str, Query(pattern=r"^([a-z][a-z0-9_-]{1,39})?$")]
PageToken = Annotated[str, Query(max_length=40)]
Export = Annotated[Literal["", "csv"], Query(alias="format")]


async def _dead_letters(api: OpsApi) -> int | None:
    return len((await api.get(POSTBACKS, {"status": "dead_lettered", "page_size": 100}))["items"])


NAV = [
    NavEntry(label="conversion.nav_campaigns", path="/conversion/campaigns", order=10, section="conversion"),
    NavEntry(
        label="conversion.nav_postbacks",
        path="/conversion/postbacks",
        order=20,
        section="conversion",
        count=_dead_letters,
    ),  # fmt: skip
]


def _campaign_path(campaign_id: str, tail: str = "") -> str:
    return ops_path(CAMPAIGNS + "/{}", campaign_id) + tail


@router.get("/campaigns")
async def list_campaigns(
    request: Request,
    api: OpsApiDep,
    partner_id: Slug = "",
    page_token: SortedPageToken = "",
    sort: Sort = "",
    export: Export = "",
) -> Response:
    params = {"partner_id": partner_id, "sort": sort, "page_token": page_token, "page_size": 50}
    page = await api.get(CAMPAIGNS, params)
    items = page["items"]
    if export:
        header = [
            "campaign_id",
            "partner_id",
            "name",
            "branch",
            "status",
            "review_state",
            "cpa",
            "commission_milestone",
        ]
        rows = [
            [
                c["campaign_id"],
                c["partner_id"],
                c["name"],
                c["branch"] or "HQ",
                c["status"],
                c["review_state"],
                money(c["cpa_amount_minor"], c["currency"]),
                c["commission_milestone"],
            ]  # fmt: skip
            for c in items
        ]
        return csv_response("campaigns.csv", header, rows)
    t = translator(request)
    return await render(
        request,
        "conversion/campaigns.html",
        title=t("conversion.campaigns"),
        breadcrumb=[(t("nav.section_conversion"), None)],
        items=items,
        partner_id=partner_id,
        sort=sort,
        next_page_token=page["next_page_token"],
        page_params={"partner_id": partner_id, "sort": sort},
    )


async def _campaign_form(
    request: Request, values: dict[str, str], errors: dict[str, str], general: list[str]
) -> Response:
    t = translator(request)
    return await render(
        request,
        "conversion/campaign_form.html",
        title=t("conversion.new_campaign"),
        breadcrumb=[
            (t("conversion.campaigns"), "/conversion/campaigns"),
            (t("conversion.new_campaign"), None),
        ],
        status_code=422 if errors or general else 200,
        values=values,
        errors=errors,
        general=general,
        milestones=MILESTONES,
    )


@router.get("/campaigns/new")
async def new_campaign(request: Request, api: OpsApiDep) -> Response:
    defaults = {"lookback_days": "7", "conversion_window_days": "14", "cpa_amount": "0", "currency": "CNY"}
    return await _campaign_form(request, defaults | {"commission_milestone": "activated"}, {}, [])


def _minor(amount: str, currency: str) -> int | None:
    """The amount typed in major units ("15.00") as minor units, exactly; None when it is not one."""
    exponent = 0 if currency.upper() in ("JPY", "KRW", "VND") else 2
    try:
        minor = Decimal(amount.strip() or "0").scaleb(exponent)
    except InvalidOperation:
        return None
    return int(minor) if minor == minor.to_integral_value() and minor >= 0 else None


@router.post("/campaigns")
async def create_campaign(request: Request, api: OpsApiDep) -> Response:
    t = translator(request)
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in FORM_FIELDS}
    postbacks = [m for m in form.getlist("postback_milestones") if m in MILESTONES]
    values["postback_milestones"] = ",".join(postbacks)
    minor = _minor(values["cpa_amount"], values["currency"])
    if minor is None:
        return await _campaign_form(request, values, {"cpa_amount": t("conversion.error_amount")}, [])
    body: dict[str, Any] = {k: values[k].strip() for k in FORM_FIELDS if k != "cpa_amount"}
    for name in ("lookback_days", "conversion_window_days"):
        if not body[name].isdigit():
            return await _campaign_form(request, values, {name: t("conversion.error_days")}, [])
        body[name] = int(body[name])
    body |= {"cpa_amount_minor": minor, "postback_milestones": postbacks}
    body["branch"] = request.state.session.branch or None
    try:
        created = await api.post(CAMPAIGNS, body)
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        errors = {
            ("cpa_amount" if k == "cpa_amount_minor" else k): v for k, v in problem.field_errors.items()
        }
        general = [] if errors else [problem.detail or problem.code]
        return await _campaign_form(request, values, errors, general)
    return RedirectResponse(f"/conversion/campaigns/{created['campaign_id']}", status_code=303)


def _period(start: str, end: str) -> tuple[str, str]:
    """Funnel days (inclusive) in the bank's calendar; the last 30 days by default."""
    today = datetime.now(BANK_ZONE).date()
    last = date.fromisoformat(end) if end else today
    first = date.fromisoformat(start) if start else last - timedelta(days=29)
    return first.isoformat(), last.isoformat()


def funnel_charts(report: dict[str, Any], t: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """ECharts options: each step per day (time series) and the period's funnel."""
    days = sorted({row["day"] for row in report["rows"]})
    per_day = {(row["day"], step): 0 for row in report["rows"] for step in STEPS}
    for row in report["rows"]:
        for step in STEPS:
            per_day[(row["day"], step)] += row["counts"][step]
    series = {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [t(f"conversion.step_{s}") for s in STEPS]},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": t(f"conversion.step_{s}"), "type": "line", "data": [per_day[(d, s)] for d in days]}
            for s in STEPS
        ],
    }
    funnel = {
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "funnel",
                "sort": "none",
                "data": [{"name": t(f"conversion.step_{s}"), "value": report["totals"][s]} for s in STEPS],
            }
        ],
    }
    return series, funnel


@router.get("/campaigns/{campaign_id}")
async def campaign_detail(
    request: Request,
    api: OpsApiDep,
    campaign_id: str,
    start: Annotated[Day, Query(alias="from")] = "",
    end: Annotated[Day, Query(alias="to")] = "",
    export: Export = "",
    new_link: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    first, last = _period(start, end)
    # one call: the campaign, its funnel over the period and its links
    answer = await api.get(_campaign_path(campaign_id, "/funnel"), {"from_day": first, "to_day": last})
    campaign, report, links = answer["campaign"], answer["report"], answer["links"]
    if export:
        rows = [
            [r["day"], *(r["counts"][s] for s in STEPS)]
            for r in sorted(report["rows"], key=lambda r: r["day"])
        ]
        return csv_response(f"funnel-{campaign_id}.csv", ["day", *STEPS], rows)
    t = translator(request)
    series, funnel = funnel_charts(report, t)
    return await render(
        request,
        "conversion/campaign.html",
        title=campaign["name"],
        breadcrumb=[(t("conversion.campaigns"), "/conversion/campaigns"), (campaign["name"], None)],
        campaign=campaign,
        report=report,
        rows=sorted(report["rows"], key=lambda r: r["day"]),
        steps=STEPS,
        series_chart=series,
        funnel_chart=funnel,
        period={"from": first, "to": last},
        links=links,
        new_link=new_link,
    )


@router.post("/campaigns/{campaign_id}/links")
async def create_link(
    api: OpsApiDep,
    campaign_id: str,
    scene: Annotated[str, Form(max_length=40)] = "default",
    ttl_days: Annotated[int, Form(ge=1, le=365)] = 30,
) -> Response:
    link = await api.post(
        _campaign_path(campaign_id, "/links"), {"scene": scene or "default", "ttl_days": ttl_days}
    )
    return RedirectResponse(
        f"/conversion/campaigns/{campaign_id}?new_link={link['link_id']}", status_code=303
    )


@router.get("/postbacks")
async def postbacks(
    request: Request,
    api: OpsApiDep,
    status: Annotated[Literal["", "pending", "delivered", "dead_lettered"], Query()] = "",
    partner_id: Slug = "",
    export: Export = "",
    page_token: Annotated[str, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]*$")] = "",
) -> Response:
    filters = {"status": status, "partner_id": partner_id}
    if export:
        items = await api.get_all(POSTBACKS, filters, limit=1000)
        header = ["delivery_id", "type", "partner_id", "campaign_id", "milestone", "status", "attempts",
                  "last_status_code", "last_error"]  # fmt: skip
        return csv_response("postbacks.csv", header, [[d[h] for h in header] for d in items])
    page = await api.get(POSTBACKS, {**filters, "page_size": 100, "page_token": page_token})
    t = translator(request)
    return await render(
        request,
        "conversion/postbacks.html",
        title=t("conversion.postbacks"),
        breadcrumb=[(t("nav.section_conversion"), None), (t("conversion.postbacks"), None)],
        items=page["items"],
        next_page_token=page["next_page_token"],
        page_params=filters,
        status=status,
        partner_id=partner_id,
        statuses=("pending", "delivered", "dead_lettered"),
    )


@router.post("/postbacks/{delivery_id}/resend")
async def resend(api: OpsApiDep, delivery_id: str, reason: Annotated[str, Form(max_length=200)]) -> Response:
    await api.post(ops_path(POSTBACKS + "/{}/resend", delivery_id), {"reason": reason})
    return RedirectResponse("/conversion/postbacks?status=dead_lettered", status_code=303)
