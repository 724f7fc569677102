"""Placing an item in a resource slot, changing a placement and taking it out (with a reason).

One form definition (`PlacementForm`) serves placing and changing; the API's errors come back beside
the fields with what was typed. A branch operator reaches only its branch's placements: another's is
the API's 404, as everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from console.api import ApiProblem, OpsApi, OpsApiDep, ops_path
from console.formatting import BANK_ZONE, parse_time
from console.pages.content import EDITIONS
from console.pages.content_slots import LOCAL_MINUTE, SLOT_KEY, aware
from console.templating import render, translator

router = APIRouter(prefix="/content")
PLACEMENTS = "/v1/ops/content/placements"
PlacementId = Annotated[str, Field(max_length=40)]


class PlacementForm(BaseModel):
    """The placement form's fields (times are Asia/Shanghai wall-clock minutes, `datetime-local`)."""

    model_config = ConfigDict(extra="ignore")  # the CSRF token travels with the form

    slot_key: Annotated[str, Field(max_length=120, pattern=SLOT_KEY)]
    placement_id: PlacementId = ""
    item_id: PlacementId = ""
    fallback_item_id: PlacementId = ""
    priority: Annotated[str, Field(max_length=10)] = "0"
    weight: Annotated[str, Field(max_length=10)] = "1"
    starts_at: Annotated[str, Field(pattern=LOCAL_MINUTE)] = ""
    ends_at: Annotated[str, Field(pattern=LOCAL_MINUTE)] = ""
    daily_start: Annotated[str, Field(max_length=5)] = ""
    daily_end: Annotated[str, Field(max_length=5)] = ""
    cap_per_day: Annotated[str, Field(max_length=10)] = "0"
    editions: Annotated[list[str], Field(max_length=6)] = []
    branches: Annotated[str, Field(max_length=840)] = ""

    def body(self, *, targeting: dict[str, Any] | None = None) -> dict[str, Any]:
        """The API's placement fields; `targeting` keeps what the form does not show (tiers, tags)."""
        schedule = {
            "starts_at": aware(self.starts_at),
            "ends_at": aware(self.ends_at),
            "daily_start": self.daily_start or None,
            "daily_end": self.daily_end or None,
        }
        body: dict[str, Any] = {
            "item_id": self.item_id,
            "priority": _number(self.priority),
            "weight": _number(self.weight),
            "cap_per_day": _number(self.cap_per_day),
            "schedule": {k: v for k, v in schedule.items() if v},
            "targeting": {
                **(targeting or {}),
                "editions": self.editions,
                "branches": [b.strip() for b in self.branches.split(",") if b.strip()],
            },
        }
        if self.fallback_item_id:
            body["fallback_item_id"] = self.fallback_item_id
        return body

    @classmethod
    def of(cls, placement: dict[str, Any]) -> PlacementForm:
        """The form of a placement as the API returns it."""
        schedule, targeting = placement["schedule"], placement["targeting"]
        return cls(
            slot_key=placement["slot_key"],
            placement_id=placement["placement_id"],
            item_id=placement["item_id"],
            fallback_item_id=placement["fallback_item_id"] or "",
            priority=str(placement["priority"]),
            weight=str(placement["weight"]),
            starts_at=_local_minute(schedule["starts_at"]),
            ends_at=_local_minute(schedule["ends_at"]),
            daily_start=schedule["daily_start"] or "",
            daily_end=schedule["daily_end"] or "",
            cap_per_day=str(placement["cap_per_day"]),
            editions=list(targeting["editions"]),
            branches=",".join(targeting["branches"]),
        )


PlacementFormDep = Annotated[PlacementForm, Form()]


def _local_minute(value: str | None) -> str:
    moment = parse_time(value)
    return moment.astimezone(BANK_ZONE).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _number(text: str) -> int | str:
    """The number typed, or the text itself so that the API names the field it refuses."""
    return int(text) if text.strip().lstrip("-").isdigit() else text


def _errors(problem: ApiProblem) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in problem.errors:
        names = [str(part) for part in error.get("loc") or () if str(part) in PlacementForm.model_fields]
        if names and names[-1] not in errors:
            errors[names[-1]] = str(error.get("msg", ""))
    return errors


async def _form_page(
    request: Request, form: PlacementForm, *, editing: bool, problem: ApiProblem | None = None
) -> Response:
    t = translator(request)
    title = (
        t("content.edit_placement", placement=form.placement_id) if editing else t("content.new_placement")
    )
    return await render(
        request,
        "content/placement_form.html",
        title=title,
        breadcrumb=[
            (t("content.slots_title"), "/content/slots"),
            (form.slot_key, f"/content/slot?key={form.slot_key}"),
            (title, None),
        ],
        slot_key=form.slot_key,
        form=form.model_dump(),
        editing=editing,
        errors=_errors(problem) if problem else {},
        problem=problem,
        editions=EDITIONS,
        status_code=problem.status if problem else 200,
    )


async def _placement(api: OpsApi, slot_key: str, placement_id: str) -> dict[str, Any]:
    """One placement of the slot, as this operator may see it (another branch's: not found)."""
    found = await api.get_all(PLACEMENTS, {"slot_key": slot_key, "include_inactive": "true"})
    for placement in found:
        if placement["placement_id"] == placement_id:
            return placement
    raise ApiProblem(404, "placement_not_found", f"no placement {placement_id} in {slot_key}")


async def _saved(request: Request, form: PlacementForm, call: Awaitable[Any], *, editing: bool) -> Response:
    """Back to the slot once the API took the change; its refusal on the form, with what was typed."""
    try:
        await call
    except ApiProblem as problem:
        if problem.status not in (403, 404, 409, 422):
            raise
        return await _form_page(request, form, editing=editing, problem=problem)
    return RedirectResponse(f"/content/slot?key={form.slot_key}", status_code=303)


@router.post("/placements")
async def create_placement(request: Request, api: OpsApiDep, form: PlacementFormDep) -> Response:
    """Place an item in the slot; the API's errors come back beside the fields, with what was typed."""
    body = {**form.body(), "slot_key": form.slot_key}
    if form.placement_id:
        body["placement_id"] = form.placement_id
    return await _saved(request, form, api.post(PLACEMENTS, body), editing=False)


@router.get("/placements/{placement_id}/edit")
async def edit_placement(
    request: Request,
    api: OpsApiDep,
    placement_id: str,
    slot_key: Annotated[str, Query(max_length=120, pattern=SLOT_KEY)],
) -> Response:
    """The placement's form with its window, weights, cap and targeting as they are."""
    placement = await _placement(api, slot_key, placement_id)
    return await _form_page(request, PlacementForm.of(placement), editing=True)


@router.post("/placements/{placement_id}")
async def update_placement(
    request: Request, api: OpsApiDep, placement_id: str, form: PlacementFormDep
) -> Response:
    """Change the placement (served from the change on); a refusal keeps what was typed."""
    current = await _placement(api, form.slot_key, placement_id)
    form.placement_id = placement_id
    body = form.body(targeting=current["targeting"])
    return await _saved(
        request, form, api.put(ops_path(PLACEMENTS + "/{}", placement_id), body), editing=True
    )


@router.post("/placements/{placement_id}/remove")
async def remove_placement(
    placement_id: str,
    api: OpsApiDep,
    slot_key: Annotated[str, Form(max_length=120, pattern=SLOT_KEY)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    """Take a placement out of its slot, with the reason the audit keeps."""
    await api.request("DELETE", ops_path(PLACEMENTS + "/{}", placement_id), params={"reason": reason})
    return RedirectResponse(f"/content/slot?key={slot_key}", status_code=303)
