"""Goals (OGSM: objective -> goal -> measures): targets per metric and period, actual against target and
the gap; set, revise and withdraw them (each change kept in the goal's history)."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from console.api import ApiProblem, OpsApiDep, ops_path
from console.formatting import csv_response, local_time
from console.nav import NavEntry
from console.pages.dashboard import default_period
from console.templating import render, translator

router = APIRouter(prefix="/goals")
NAV = NavEntry(label="nav.goals", path="/goals", order=20, section="metrics")
GOALS = "/v1/ops/goals"
METRICS = ("acquired", "activated", "upgraded", "linked", "landings", "clicks")
MEASURE_ROWS = 3
MEASURE_FIELDS = ("metric", "from_day", "to_day", "target")
SCOPE_FIELDS = ("app_id", "partner_id", "campaign_id")
WRITERS = ("operator", "reviewer", "admin")
CSV_MEASURE = ("metric", "from_day", "to_day", "target", "actual", "gap")
Field = Annotated[str, PydanticField(max_length=200)]


def objectives(goals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Goals grouped under their objective (objective order, then goal name)."""
    ordered = sorted(goals, key=lambda g: (g["objective"], g["name"], g["goal_id"]))
    return [
        {"objective": name, "goals": list(items)}
        for name, items in groupby(ordered, key=lambda g: g["objective"])
    ]


def attainment_chart(goal: dict[str, Any], t: Any) -> dict[str, Any]:
    """ECharts option: actual against target per measure of one goal."""
    labels = [
        f"{t('dashboard.metric_' + m['metric'])} {m['from_day']}~{m['to_day']}" for m in goal["measures"]
    ]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "data": [t("goals.target"), t("goals.actual")]},
        "grid": {"left": 40, "right": 16, "bottom": 30, "top": 36},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": t("goals.target"), "type": "bar", "data": [m["target"] for m in goal["measures"]]},
            {"name": t("goals.actual"), "type": "bar", "data": [m["actual"] for m in goal["measures"]]},
        ],
    }


@router.get("")
async def list_goals(
    request: Request,
    api: OpsApiDep,
    objective: Annotated[str, Query(max_length=200)] = "",
    page_token: Annotated[str, Query(max_length=40)] = "",
    export: Annotated[str, Query(pattern=r"^(csv)?$")] = "",
) -> Response:
    page = await api.get(GOALS, {"objective": objective, "page_token": page_token, "page_size": 50})
    goals = page["items"]
    if export:
        header = [
            "objective",
            "goal_id",
            "goal",
            "branch",
            "metric",
            "from_day",
            "to_day",
            "target",
            "actual",
            "gap",
        ]
        rows = (
            [
                g["objective"],
                g["goal_id"],
                g["name"],
                g["branch"] or "head_office",
                *(m[k] for k in header[4:]),
            ]
            for g in goals
            for m in g["measures"]
        )
        return csv_response("goals.csv", header, rows)
    t = translator(request)
    return await render(
        request,
        "goals/list.html",
        title=t("goals.title"),
        breadcrumb=[(t("nav.section_metrics"), None), (t("goals.title"), None)],
        objectives=objectives(goals),
        charts={g["goal_id"]: attainment_chart(g, t) for g in goals},
        objective=objective,
        can_write=request.state.session.role in WRITERS,
        next_page_token=page.get("next_page_token"),
        page_params={"objective": objective},
    )


def _blank_form(session: Any) -> dict[str, str]:
    start, end = default_period()
    form = {name: "" for name in ("goal_id", "objective", "name", "branch", *SCOPE_FIELDS)}
    form["branch"] = session.branch or ""
    for i in range(MEASURE_ROWS):
        form |= {f"m{i}_metric": "", f"m{i}_from_day": start, f"m{i}_to_day": end, f"m{i}_target": ""}
    form["m0_metric"] = "acquired"
    return form


def _form_of(goal: dict[str, Any]) -> dict[str, str]:
    form = {k: goal.get(k) or "" for k in ("goal_id", "objective", "name", "branch", *SCOPE_FIELDS)}
    for i in range(MEASURE_ROWS):
        measure = goal["measures"][i] if i < len(goal["measures"]) else {}
        form |= {f"m{i}_{k}": str(measure.get(k, "")) for k in MEASURE_FIELDS}
    form["version"] = str(goal["version"])
    return form


def _errors(problem: ApiProblem | None, rows: list[int]) -> dict[str, str]:
    """The API's field errors beside the form's fields (measure i of the body is form row rows[i])."""
    errors: dict[str, str] = {}
    for error in problem.errors if problem else []:
        loc = [str(x) for x in error.get("loc") or []]
        loc = loc[1:] if loc[:1] == ["body"] else loc
        if len(loc) >= 3 and loc[0] == "measures" and loc[1].isdigit() and int(loc[1]) < len(rows):
            name = f"m{rows[int(loc[1])]}_{loc[2]}"
        else:
            name = loc[0] if loc else ""
        if name and name not in errors:
            errors[name] = str(error.get("msg", ""))
    return errors


async def _form_page(
    request: Request, *, form: dict[str, str], problem: ApiProblem | None, rows: list[int], goal_id: str = ""
) -> Response:
    t = translator(request)
    title = t("goals.edit_title", goal_id=goal_id) if goal_id else t("goals.new_title")
    return await render(
        request,
        "goals/form.html",
        title=title,
        breadcrumb=[(t("goals.title"), "/goals"), (title, None)],
        form=form,
        goal_id=goal_id,
        errors=_errors(problem, rows),
        problem=problem,
        metrics=METRICS,
        measure_rows=range(MEASURE_ROWS),
        status_code=problem.status if problem else 200,
    )


def _body(form: dict[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The API body of the form (blank measure rows left out) and which form row each measure is."""
    rows = [i for i in range(MEASURE_ROWS) if form.get(f"m{i}_target") or form.get(f"m{i}_metric")]
    measures = []
    for i in rows:
        target = form[f"m{i}_target"]
        measures.append(
            {
                "metric": form[f"m{i}_metric"],
                "from_day": form[f"m{i}_from_day"],
                "to_day": form[f"m{i}_to_day"],
                # a number goes as a number; anything else as typed, for the API to refuse beside the field
                "target": int(target) if target.isdigit() and len(target) < 16 else target,
            }
        )
    body: dict[str, Any] = {"objective": form["objective"], "name": form["name"], "measures": measures}
    body |= {k: form[k] for k in SCOPE_FIELDS if form.get(k)}
    return body, rows


class GoalForm(BaseModel):
    """The goal form's fields, one definition for setting and revising a goal (3 measure rows)."""

    model_config = ConfigDict(extra="ignore")  # the CSRF token travels with the form

    goal_id: Field = ""
    branch: Field = ""
    version: Annotated[str, PydanticField(max_length=12)] = ""
    objective: Field = ""
    name: Field = ""
    app_id: Field = ""
    partner_id: Field = ""
    campaign_id: Field = ""
    m0_metric: Field = ""
    m0_from_day: Field = ""
    m0_to_day: Field = ""
    m0_target: Field = ""
    m1_metric: Field = ""
    m1_from_day: Field = ""
    m1_to_day: Field = ""
    m1_target: Field = ""
    m2_metric: Field = ""
    m2_from_day: Field = ""
    m2_to_day: Field = ""
    m2_target: Field = ""

    def fields(self, *leave_out: str) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if k not in leave_out}


GoalFormDep = Annotated[GoalForm, Form()]


@router.get("/new")
async def new_goal(request: Request, api: OpsApiDep) -> Response:
    return await _form_page(request, form=_blank_form(request.state.session), problem=None, rows=[])


@router.post("")
async def create_goal(request: Request, api: OpsApiDep, typed: GoalFormDep) -> Response:
    """Set a goal; on a refusal the form comes back with what was typed and the errors beside it."""
    form = typed.fields("version")
    goal_id, branch = typed.goal_id, typed.branch
    body, rows = _body(form)
    body["goal_id"] = goal_id
    if branch:
        body["branch"] = branch
    try:
        created = await api.post(GOALS, body)
    except ApiProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        return await _form_page(request, form=form, problem=problem, rows=rows)
    return RedirectResponse(f"/goals/{ops_path('{}', created['goal_id'])}", status_code=303)


@router.get("/{goal_id}")
async def goal_detail(request: Request, goal_id: str, api: OpsApiDep) -> Response:
    goal = await api.get(ops_path(GOALS + "/{}", goal_id))
    history = await api.get_all(ops_path(GOALS + "/{}/history", goal_id))
    t = translator(request)
    return await render(
        request,
        "goals/detail.html",
        title=goal["name"],
        breadcrumb=[(t("goals.title"), "/goals"), (goal["name"], None)],
        goal=goal,
        chart=attainment_chart(goal, t),
        history=[{**c, "at_local": local_time(c["at"])} for c in reversed(history)],
        can_write=request.state.session.role in WRITERS,
    )


@router.get("/{goal_id}/edit")
async def edit_goal(request: Request, goal_id: str, api: OpsApiDep) -> Response:
    goal = await api.get(ops_path(GOALS + "/{}", goal_id))
    return await _form_page(request, form=_form_of(goal), problem=None, rows=[], goal_id=goal["goal_id"])


@router.post("/{goal_id}")
async def update_goal(request: Request, goal_id: str, api: OpsApiDep, typed: GoalFormDep) -> Response:
    """Revise a goal from the version that was read (a newer one in between is a 409 shown on the form)."""
    form = {**typed.fields("branch"), "goal_id": goal_id}
    version = typed.version
    body, rows = _body(form)
    body["version"] = int(version) if version.isdigit() and len(version) < 11 else version
    try:
        await api.put(ops_path(GOALS + "/{}", goal_id), body)
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        return await _form_page(request, form=form, problem=problem, rows=rows, goal_id=goal_id)
    return RedirectResponse(f"/goals/{ops_path('{}', goal_id)}", status_code=303)


@router.post("/{goal_id}/delete")
async def delete_goal(
    request: Request, goal_id: str, api: OpsApiDep, version: Annotated[str, Form(max_length=12)] = ""
) -> Response:
    """Withdraw a goal (its history stays)."""
    path = ops_path(GOALS + "/{}", goal_id)
    await api.request("DELETE", path, params={"version": version})
    return RedirectResponse("/goals", status_code=303)
