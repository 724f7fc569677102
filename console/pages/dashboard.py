"""North-star dashboard (北极星指标): acquisitions, activations and tier upgrades over a chosen period,
by day (time series), through the funnel, and by app / partner / campaign / branch, with goals' gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from console.api import ApiProblem, OpsApiDep
from console.formatting import csv_response
from console.nav import NavEntry
from console.tables import count_rows
from console.templating import render, translator

router = APIRouter()
NAV = NavEntry(label="nav.dashboard", path="/dashboard", order=10, section="metrics")
METRICS = "/v1/ops/metrics/north-star"
DIMENSIONS = ("partner", "campaign", "app", "branch")
NORTH_STAR = ("acquired", "activated", "upgraded")
FUNNEL = ("clicks", "landings", "linked", "activated", "upgraded")
COLUMNS = ("clicks", "landings", "linked", "acquired", "re_engaged", "activated", "upgraded")
DEFAULT_DAYS = 30
Text = Annotated[str, Query(max_length=60)]


def default_period() -> tuple[str, str]:
    """The last 30 click days (click days are UTC dates, as the funnel counts them)."""
    today = datetime.now(UTC).date()
    return (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), today.isoformat()


def presets() -> list[tuple[str, str, str]]:
    """Quick periods: (glossary key, from, to) for the last 7, 30 and 90 days and this month."""
    today = datetime.now(UTC).date()
    back = [(f"dashboard.last_{n}", (today - timedelta(days=n - 1)).isoformat()) for n in (7, 30, 90)]
    month = ("dashboard.this_month", today.replace(day=1).isoformat())
    return [(key, start, today.isoformat()) for key, start in [*back, month]]


def time_series_chart(days: list[dict[str, Any]], t: Any) -> dict[str, Any]:
    """ECharts option: one line per north-star metric over the period's days."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "data": [t(f"dashboard.metric_{m}") for m in NORTH_STAR]},
        "grid": {"left": 40, "right": 16, "bottom": 30, "top": 40},
        "xAxis": {"type": "category", "data": [d["key"] for d in days]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": t(f"dashboard.metric_{m}"), "type": "line", "data": [d["counts"][m] for d in days]}
            for m in NORTH_STAR
        ],
    }


def funnel_chart(totals: dict[str, int], t: Any) -> dict[str, Any]:
    """ECharts option: the ordered funnel, clicks to tier upgrades, in the funnel's own order."""
    return {
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "funnel",
                "sort": "none",
                "minSize": "8%",
                "label": {"show": True, "position": "inside"},
                "data": [{"name": t(f"dashboard.metric_{m}"), "value": totals[m]} for m in FUNNEL],
            }
        ],
    }


def breakdown_chart(groups: list[dict[str, Any]], t: Any) -> dict[str, Any]:
    """ECharts option: the north-star metrics side by side per group."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "data": [t(f"dashboard.metric_{m}") for m in NORTH_STAR]},
        "grid": {"left": 40, "right": 16, "bottom": 60, "top": 40},
        "xAxis": {"type": "category", "data": [g["key"] for g in groups], "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": t(f"dashboard.metric_{m}"), "type": "bar", "data": [g["counts"][m] for g in groups]}
            for m in NORTH_STAR
        ],
    }


def rates(totals: dict[str, int]) -> dict[str, float | None]:
    """Step-to-step conversion of the funnel (None when the step before is empty)."""
    out: dict[str, float | None] = {}
    for before, after in zip(FUNNEL, FUNNEL[1:], strict=False):
        out[after] = round(100 * totals[after] / totals[before], 1) if totals[before] else None
    return out


@router.get("/dashboard")
async def dashboard(
    request: Request,
    api: OpsApiDep,
    from_day: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_day: Annotated[str, Query(alias="to", max_length=10)] = "",
    group_by: Annotated[str, Query(max_length=10)] = "partner",
    app_id: Text = "",
    partner_id: Text = "",
    campaign_id: Text = "",
    branch: Text = "",
    export: Annotated[str, Query(pattern=r"^(days|groups)?$")] = "",
) -> Response:
    t = translator(request)
    start, end = default_period()
    query = {"from": from_day or start, "to": to_day or end, "group_by": group_by}
    scope = {"app_id": app_id, "partner_id": partner_id, "campaign_id": campaign_id, "branch": branch}
    problem: ApiProblem | None = None
    # one call: the series by day, the breakdown by the chosen group and (for the page) the goals
    ask = {**query, **scope, "group_by": "day", "breakdown": None if group_by == "day" else group_by}
    try:
        by_day = await api.get(METRICS, {**ask, "include": None if export else "goals"})
    except ApiProblem as exc:
        if exc.status not in (403, 422):
            raise
        problem, by_day = exc, None
    by_group = None
    if by_day is not None:
        by_group = by_day if group_by == "day" else {"groups": by_day["breakdown"] or []}
    if export and by_day is not None and by_group is not None:
        rows = by_day["groups"] if export == "days" else by_group["groups"]
        first = "day" if export == "days" else group_by
        return csv_response(
            f"north-star-{export}-{query['from']}-{query['to']}.csv",
            [first, *COLUMNS],
            ([g["key"], *(g["counts"][c] for c in COLUMNS)] for g in rows),
        )
    goals = _goal_measures(by_day.get("goals") or []) if by_day else []
    totals = by_day["totals"] if by_day else None
    return await render(
        request,
        "dashboard/index.html",
        title=t("dashboard.title"),
        breadcrumb=[(t("nav.section_metrics"), None), (t("dashboard.title"), None)],
        query={**query, **scope},
        dimensions=DIMENSIONS,
        presets=presets(),
        problem=problem,
        errors=_field_errors(problem),
        totals=totals,
        day_rows=count_rows(by_day["groups"], key_attr="day", columns=NORTH_STAR) if by_day else "",
        groups=by_group["groups"] if by_group else [],
        group_rows=_group_rows(by_group["groups"], group_by, t) if by_group else "",
        north_star=NORTH_STAR,
        funnel=FUNNEL,
        columns=COLUMNS,
        rates=rates(totals) if totals else {},
        series_chart=time_series_chart(by_day["groups"], t) if by_day else None,
        funnel_chart=funnel_chart(totals, t) if totals else None,
        breakdown_chart=breakdown_chart(by_group["groups"], t) if by_group else None,
        goals=goals,
        status_code=problem.status if problem else 200,
    )


def _group_rows(groups: list[dict[str, Any]], group_by: str, t: Any) -> Markup:
    """The breakdown table's rows; head office's branch key reads as "head office"."""
    head_office = t("app.head_office")

    def label(key: str) -> str:
        return head_office if group_by == "branch" and key == "head_office" else key

    return count_rows(groups, key_attr="key", columns=COLUMNS, label=label)


def _field_errors(problem: ApiProblem | None) -> dict[str, str]:
    """The API's complaint beside the filter it is about (`from`, `to`, `group_by`...)."""
    if problem is None:
        return {}
    errors = dict(problem.field_errors)
    if problem.code == "invalid_period":
        errors.setdefault("from", problem.detail)
    if problem.code == "branch_scope":
        errors.setdefault("branch", problem.detail)
    if "breakdown" in errors:  # the page's "group by" is the API's breakdown
        errors.setdefault("group_by", errors.pop("breakdown"))
    return errors


def _goal_measures(goals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every measure of the goals this operator sees (the metrics call's first 100), by objective."""
    return [
        {"goal": g, "measure": m}
        for g in sorted(goals, key=lambda g: (g["objective"], g["name"]))
        for m in g["measures"]
    ]
