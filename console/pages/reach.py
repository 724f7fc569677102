"""Reach (触达): strategies as 4W1Do forms, dry runs, approval and lifecycle, and the review (复盘)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApiDep, ops_path
from console.formatting import BANK_ZONE, csv_response, local_time
from console.nav import NavEntry
from console.pages import reach_form as forms
from console.sorting import Sort, SortedPageToken
from console.templating import render, translator

router = APIRouter(prefix="/reach")
NAV = NavEntry(label="reach.nav", path="/reach/strategies", order=10, section="reach")
STRATEGIES = "/v1/ops/reach/strategies"
Status = Literal["", "draft", "approved", "active", "paused", "ended", "rejected"]
PageToken = Annotated[str, Query(max_length=36)]
Day = Annotated[str, Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]
REVIEW_DAYS = 14  # the bi-weekly review by default


def _one(strategy_id: str) -> str:
    return ops_path(STRATEGIES + "/{}", strategy_id)


@router.get("/strategies")
async def list_strategies(
    request: Request,
    api: OpsApiDep,
    status: Annotated[Status, Query()] = "",
    page_token: SortedPageToken = "",
    sort: Sort = "",
    export: Annotated[Literal["", "csv"], Query(alias="format")] = "",
) -> Response:
    params = {"status": status, "sort": sort, "page_token": page_token, "page_size": 50}
    page = await api.get(STRATEGIES, params)
    items = page["items"]
    if export:
        header = [
            "strategy_id",
            "name",
            "status",
            "kind",
            "branch",
            "created_by",
            "approved_by",
            "updated_at",
        ]
        rows = [
            [
                s["strategy_id"],
                s["spec"]["name"],
                s["status"],
                s["spec"]["kind"],
                s["branch"] or "HQ",
                s["created_by"],
                s["approved_by"],
                local_time(s["updated_at"]),
            ]  # fmt: skip
            for s in items
        ]
        return csv_response("strategies.csv", header, rows)
    t = translator(request)
    return await render(
        request,
        "reach/list.html",
        title=t("reach.strategies"),
        breadcrumb=[(t("nav.section_reach"), None)],
        items=items,
        status=status,
        statuses=get_args(Status)[1:],
        sort=sort,
        next_page_token=page["next_page_token"],
        page_params={"status": status, "sort": sort},
    )


async def _form_page(
    request: Request, form: forms.StrategyForm, *, strategy: dict[str, Any] | None
) -> Response:
    t = translator(request)
    title = t("reach.edit_strategy") if strategy else t("reach.new_strategy")
    crumbs = [(t("reach.strategies"), "/reach/strategies")]
    if strategy:
        crumbs.append((strategy["spec"]["name"], f"/reach/strategies/{strategy['strategy_id']}"))
    return await render(
        request,
        "reach/form.html",
        title=title,
        breadcrumb=[*crumbs, (title, None)],
        status_code=422 if form.errors or form.general else 200,
        form=form,
        strategy=strategy,
        rows={"seg": forms.SEGMENT_ROWS, "tp": forms.TOUCHPOINT_ROWS, "trg": forms.PREDICATE_ROWS},
        profile_fields=forms.PROFILE_FIELDS,
        ops=forms.OPS,
        channels=forms.CHANNELS,
    )


@router.get("/strategies/new")
async def new_strategy(request: Request, api: OpsApiDep) -> Response:
    return await _form_page(request, forms.blank_form(), strategy=None)


async def _submitted(request: Request) -> forms.StrategyForm:
    data = await request.form()
    values = {k: v for k, v in data.items() if isinstance(v, str) and k != "csrf_token"}
    return forms.StrategyForm(values=values)


async def _save(request: Request, api: OpsApiDep, strategy: dict[str, Any] | None) -> Response:
    t = translator(request)
    form = await _submitted(request)
    spec = forms.spec_from_form(form, number_error=t("reach.error_number"))
    if form.errors:
        return await _form_page(request, form, strategy=strategy)
    try:
        if strategy is None:
            saved = await api.post(STRATEGIES, spec)
        else:
            saved = await api.put(
                _one(strategy["strategy_id"]), {**spec, "expected_version": strategy["version"]}
            )
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        return await _form_page(
            request, forms.with_api_errors(form, problem.errors, problem.detail), strategy=strategy
        )
    return RedirectResponse(f"/reach/strategies/{saved['strategy_id']}", status_code=303)


@router.post("/strategies")
async def create_strategy(request: Request, api: OpsApiDep) -> Response:
    return await _save(request, api, None)


@router.get("/strategies/{strategy_id}/edit")
async def edit_strategy(request: Request, api: OpsApiDep, strategy_id: str) -> Response:
    strategy = await api.get(_one(strategy_id))
    return await _form_page(request, forms.form_from_spec(strategy["spec"]), strategy=strategy)


@router.post("/strategies/{strategy_id}/edit")
async def update_strategy(request: Request, api: OpsApiDep, strategy_id: str) -> Response:
    strategy = await api.get(_one(strategy_id))
    return await _save(request, api, strategy)


async def _detail(
    request: Request, api: OpsApiDep, strategy_id: str, dry_run: dict[str, Any] | None
) -> Response:
    t = translator(request)
    strategy = await api.get(_one(strategy_id))
    revisions = (await api.get(_one(strategy_id) + "/revisions"))["items"]
    session = request.state.session
    own_work = session.operator_id in (strategy.get("edited_by") or [strategy["created_by"]])
    chart = None
    if dry_run:
        labels = [t(f"reach.channel_{tp['channel']}") for tp in dry_run["touchpoints"]]
        chart = {
            "tooltip": {},
            "xAxis": {"type": "category", "data": [*labels, t("reach.control"), t("reach.unreachable")]},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [
                {
                    "type": "bar",
                    "data": [tp["customers"] for tp in dry_run["touchpoints"]]
                    + [dry_run["control"], dry_run["unreachable"]],
                }
            ],
        }
    return await render(
        request,
        "reach/detail.html",
        title=strategy["spec"]["name"],
        breadcrumb=[(t("reach.strategies"), "/reach/strategies"), (strategy["spec"]["name"], None)],
        strategy=strategy,
        spec=strategy["spec"],
        revisions=revisions,
        own_work=own_work,
        dry_run=dry_run,
        chart=chart,
    )


@router.get("/strategies/{strategy_id}")
async def strategy_detail(request: Request, api: OpsApiDep, strategy_id: str) -> Response:
    return await _detail(request, api, strategy_id, None)


@router.post("/strategies/{strategy_id}/dry-run")
async def dry_run(request: Request, api: OpsApiDep, strategy_id: str) -> Response:
    result = await api.post(_one(strategy_id) + "/dry-run")
    return await _detail(request, api, strategy_id, result)


@router.post("/strategies/{strategy_id}/status")
async def change_status(
    api: OpsApiDep,
    strategy_id: str,
    action: Annotated[Literal["approve", "activate", "pause", "end"], Form()],
) -> Response:
    await api.post(_one(strategy_id) + f"/{action}")
    return RedirectResponse(f"/reach/strategies/{strategy_id}", status_code=303)


def _window(start: str, end: str) -> tuple[datetime, datetime]:
    """[from, to] as Shanghai days (to inclusive); the last two weeks by default."""
    today = datetime.now(BANK_ZONE).date()
    last = datetime.fromisoformat(end).date() if end else today
    first = datetime.fromisoformat(start).date() if start else last - timedelta(days=REVIEW_DAYS - 1)
    if first > last:
        raise ApiProblem(422, "invalid_window", "", errors=[{"loc": ["query", "from"], "msg": "from > to"}])
    return (
        datetime.combine(first, time(), BANK_ZONE),
        datetime.combine(last + timedelta(days=1), time(), BANK_ZONE),
    )


def review_rows(review: dict[str, Any]) -> list[tuple[str, Any]]:
    """The review as (measure, value) rows: the table, and the CSV export."""
    rows: list[tuple[str, Any]] = [
        (k, review[k]) for k in ("audience", "sent", "delivered", "opened", "held")
    ]
    rows += [(f"suppressed.{r['reason']}", r["count"]) for r in review["suppressed"]]
    for group in ("treatment", "control"):
        rows += [(f"{group}.{k}", review[group][k]) for k in ("customers", "converted", "conversion_rate")]
    rows += [(k, review[k]) for k in ("measurable", "uplift", "uplift_ci_low", "uplift_ci_high")]
    return rows


@router.get("/strategies/{strategy_id}/review")
async def strategy_review(
    request: Request,
    api: OpsApiDep,
    strategy_id: str,
    start: Annotated[Day, Query(alias="from")] = "",
    end: Annotated[Day, Query(alias="to")] = "",
    page_token: PageToken = "",
    export: Annotated[Literal["", "csv"], Query(alias="format")] = "",
) -> Response:
    first, after_last = _window(start, end)
    review = await api.get(
        _one(strategy_id) + "/review", {"from": first.isoformat(), "to": after_last.isoformat()}
    )
    if export:
        return csv_response(f"review-{strategy_id}.csv", ["measure", "value"], review_rows(review))
    t = translator(request)
    strategy = await api.get(_one(strategy_id))
    deliveries = await api.get(_one(strategy_id) + "/deliveries", {"page_token": page_token, "page_size": 50})
    reasons = review["suppressed"]
    chart = {
        "tooltip": {},
        "grid": {"left": 160},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": {"type": "category", "data": [r["reason"] for r in reasons]},
        "series": [{"type": "bar", "data": [r["count"] for r in reasons]}],
    }
    window = {"from": first.date().isoformat(), "to": (after_last - timedelta(days=1)).date().isoformat()}
    return await render(
        request,
        "reach/review.html",
        title=t("reach.review_of", name=strategy["spec"]["name"]),
        breadcrumb=[
            (t("reach.strategies"), "/reach/strategies"),
            (strategy["spec"]["name"], f"/reach/strategies/{strategy_id}"),
            (t("reach.review"), None),
        ],
        strategy=strategy,
        review=review,
        rows=review_rows(review),
        chart=chart if reasons else None,
        window=window,
        deliveries=deliveries["items"],
        next_page_token=deliveries["next_page_token"],
        page_params=window,
    )
