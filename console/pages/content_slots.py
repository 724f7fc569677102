"""Resource slots (运营资源位): the slots, one slot's placements on a calendar, a preview, placing an item."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from console.api import ApiProblem, OpsApiDep
from console.formatting import BANK_ZONE, csv_response, local_time, parse_time
from console.pages.content import EDITIONS
from console.templating import render, translator

router = APIRouter(prefix="/content")
SLOT_KEY = r"^[a-z][a-z0-9_-]{1,39}(?:/[a-z0-9][a-z0-9_-]{0,38}){1,4}$"
NAME = r"^([A-Za-z0-9_.:-]{1,40})?$"
LOCAL_MINUTE = r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})?$"


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
    slots = await api.get_all("/v1/ops/content/slots", {"app_id": app_id})
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
    placements = await api.get_all(
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
