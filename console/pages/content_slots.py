"""Resource slots (运营资源位): the slots, one slot's placements on a calendar, a preview, placing an item."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApiDep, ops_path
from console.formatting import BANK_ZONE, csv_response, local_time, parse_time
from console.pages.content import EDITIONS
from console.templating import render, translator

router = APIRouter(prefix="/content")
SLOT_KEY = r"^[a-z][a-z0-9_-]{1,39}(?:/[a-z0-9][a-z0-9_-]{0,38}){1,4}$"
NAME = r"^([A-Za-z0-9_.:-]{1,40})?$"
LOCAL_MINUTE = r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})?$"
PLACEMENT_FIELDS = (
    "placement_id",
    "item_id",
    "fallback_item_id",
    "priority",
    "weight",
    "starts_at",
    "ends_at",
    "daily_start",
    "daily_end",
    "cap_per_day",
    "editions",
    "branches",
)


def aware(local_minute: str) -> str | None:
    """A `datetime-local` value read as Asia/Shanghai, as ISO 8601 with its offset."""
    if not local_minute:
        return None
    return datetime.fromisoformat(local_minute).replace(tzinfo=BANK_ZONE).isoformat()


def calendar(placements: list[dict[str, Any]], *, start: datetime, days: int) -> dict[str, Any]:
    """An ECharts option: one thick line per placement over its window on a time axis, clipped to the days."""
    end = start + timedelta(days=days)
    names, series = [], []
    for p in placements:
        name = f"{p['placement_id']} (P{p['priority']}·W{p['weight']})"
        names.append(name)
        begins = max(parse_time(p["schedule"]["starts_at"]) or start, start)
        ends = min(parse_time(p["schedule"]["ends_at"]) or end, end)
        if ends <= begins:
            continue
        series.append(
            {
                "name": name,
                "type": "line",
                "symbol": "none",
                "lineStyle": {"width": 14},
                "data": [[_ms(begins), name], [_ms(ends), name]],
            }
        )
    if series:  # where "now" is on the calendar
        series[0]["markLine"] = {
            "symbol": "none",
            "silent": True,
            "label": {"show": False},
            "data": [{"xAxis": _ms(datetime.now(BANK_ZONE))}],
        }
    return {
        "tooltip": {"trigger": "item"},
        "grid": {"left": 8, "right": 24, "top": 16, "bottom": 24, "containLabel": True},
        "xAxis": {"type": "time", "min": _ms(start), "max": _ms(end)},
        "yAxis": {"type": "category", "data": names, "inverse": True},
        "series": series,
    }


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@router.get("/slots")
async def list_slots(
    request: Request,
    api: OpsApiDep,
    app_id: Annotated[str, Query(pattern=r"^([a-z][a-z0-9_-]{1,39})?$")] = "",
) -> Response:
    slots = await api.get("/v1/ops/content/slots", {"app_id": app_id})
    t = translator(request)
    return await render(
        request,
        "content/slots.html",
        title=t("content.slots_title"),
        breadcrumb=[(t("nav.section_content"), None), (t("content.slots_title"), None)],
        slots=sorted(slots, key=lambda s: s["slot_key"]),
        app_id=app_id,
    )


@router.get("/slot")
async def slot_detail(
    request: Request,
    api: OpsApiDep,
    key: Annotated[str, Query(max_length=120, pattern=SLOT_KEY)],
    start: Annotated[str, Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = "",
    days: Annotated[int, Query(ge=1, le=92)] = 30,
    include_inactive: bool = False,
    export: Annotated[str, Query(pattern=r"^(csv)?$")] = "",
    edition: Annotated[str, Query(pattern=r"^[a-z_]{0,20}$")] = "",
    locale: Annotated[str, Query(pattern=r"^(zh-Hans|zh-Hant|en)?$")] = "zh-Hans",
    branch: Annotated[str, Query(pattern=NAME)] = "",
    assurance_level: Annotated[int, Query(ge=0, le=4)] = 1,
    aum_tier: Annotated[str, Query(pattern=NAME)] = "",
    tags: Annotated[str, Query(max_length=840)] = "",
    at: Annotated[str, Query(pattern=LOCAL_MINUTE)] = "",
) -> Response:
    placements = await api.get(
        "/v1/ops/content/placements", {"slot_key": key, "include_inactive": str(include_inactive).lower()}
    )
    placements.sort(key=lambda p: (-p["priority"], -p["weight"], p["placement_id"]))
    if export:
        return csv_response(
            "placements.csv",
            [
                "placement_id",
                "item_id",
                "priority",
                "weight",
                "starts_at",
                "ends_at",
                "daily",
                "cap",
                "branch",
            ],
            (
                [
                    p["placement_id"],
                    p["item_id"],
                    p["priority"],
                    p["weight"],
                    local_time(p["schedule"]["starts_at"]),
                    local_time(p["schedule"]["ends_at"]),
                    f"{p['schedule']['daily_start'] or ''}-{p['schedule']['daily_end'] or ''}",
                    p["cap_per_day"],
                    p["owner_branch"] or "",
                ]
                for p in placements
            ),
        )
    today = datetime.now(BANK_ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=7)
    if start:
        first = datetime.fromisoformat(start).replace(tzinfo=BANK_ZONE)
    preview = problem = None
    preview_form = {
        "edition": edition or "standard",
        "locale": locale,
        "branch": branch,
        "aum_tier": aum_tier,
        "assurance_level": assurance_level,
        "tags": tags,
        "at": at,
    }
    if edition:
        params = dict(preview_form, slot_key=key, at=aware(at), branch=branch or None)
        try:
            preview = await api.get("/v1/ops/content/preview", params)
        except ApiProblem as exc:
            problem = exc
    t = translator(request)
    return await render(
        request,
        "content/slot.html",
        title=t("content.slot_title", slot=key),
        breadcrumb=[(t("content.slots_title"), "/content/slots"), (key, None)],
        slot_key=key,
        placements=placements,
        chart=calendar(placements, start=first, days=days),
        start=first.date().isoformat(),
        days=days,
        preview=preview,
        preview_problem=problem,
        preview_form=preview_form,
        editions=EDITIONS,
        form={},
        errors={},
    )


@router.post("/placements")
async def create_placement(
    request: Request,
    api: OpsApiDep,
    slot_key: Annotated[str, Form(max_length=120, pattern=SLOT_KEY)],
    placement_id: Annotated[str, Form(max_length=40)] = "",
    item_id: Annotated[str, Form(max_length=40)] = "",
    fallback_item_id: Annotated[str, Form(max_length=40)] = "",
    priority: Annotated[str, Form(max_length=10)] = "0",
    weight: Annotated[str, Form(max_length=10)] = "1",
    starts_at: Annotated[str, Form(pattern=LOCAL_MINUTE)] = "",
    ends_at: Annotated[str, Form(pattern=LOCAL_MINUTE)] = "",
    daily_start: Annotated[str, Form(max_length=5)] = "",
    daily_end: Annotated[str, Form(max_length=5)] = "",
    cap_per_day: Annotated[str, Form(max_length=10)] = "0",
    editions: Annotated[list[str], Form(max_length=6)] = [],  # noqa: B006 - FastAPI reads the default
    branches: Annotated[str, Form(max_length=840)] = "",
) -> Response:
    """Place an item in the slot; the API's errors come back beside the fields, with what was typed."""
    form = {
        "placement_id": placement_id,
        "item_id": item_id,
        "fallback_item_id": fallback_item_id,
        "priority": priority,
        "weight": weight,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "daily_start": daily_start,
        "daily_end": daily_end,
        "cap_per_day": cap_per_day,
        "editions": editions,
        "branches": branches,
    }
    body: dict[str, Any] = {
        "slot_key": slot_key,
        "item_id": item_id,
        "priority": _number(priority),
        "weight": _number(weight),
        "cap_per_day": _number(cap_per_day),
        "schedule": {
            k: v
            for k, v in {
                "starts_at": aware(starts_at),
                "ends_at": aware(ends_at),
                "daily_start": daily_start or None,
                "daily_end": daily_end or None,
            }.items()
            if v
        },
        "targeting": {"editions": editions, "branches": [b for b in branches.split(",") if b.strip()]},
    }
    if placement_id:
        body["placement_id"] = placement_id
    if fallback_item_id:
        body["fallback_item_id"] = fallback_item_id
    try:
        await api.post("/v1/ops/content/placements", body)
    except ApiProblem as problem:
        if problem.status not in (403, 404, 409, 422):
            raise
        errors = {}
        for error in problem.errors:
            names = [str(part) for part in error.get("loc") or () if str(part) in PLACEMENT_FIELDS]
            if names and names[-1] not in errors:
                errors[names[-1]] = str(error.get("msg", ""))
        t = translator(request)
        return await render(
            request,
            "content/placement_form.html",
            title=t("content.new_placement"),
            breadcrumb=[(t("content.slots_title"), "/content/slots"), (slot_key, None)],
            slot_key=slot_key,
            form=form,
            errors=errors,
            problem=problem,
            editions=EDITIONS,
            status_code=problem.status,
        )
    return RedirectResponse(f"/content/slot?key={slot_key}", status_code=303)


@router.post("/placements/{placement_id}/remove")
async def remove_placement(
    placement_id: str,
    api: OpsApiDep,
    slot_key: Annotated[str, Form(max_length=120, pattern=SLOT_KEY)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    """Take a placement out of its slot, with the reason the audit keeps."""
    await api.request(
        "DELETE", ops_path("/v1/ops/content/placements/{}", placement_id), params={"reason": reason}
    )
    return RedirectResponse(f"/content/slot?key={slot_key}", status_code=303)


def _number(text: str) -> int | str:
    """The number typed, or the text itself so that the API names the field it refuses."""
    return int(text) if text.strip().lstrip("-").isdigit() else text
