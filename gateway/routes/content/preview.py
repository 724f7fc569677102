"""`GET /v1/ops/content/preview`: what a customer of an edition sees in a slot, by the serving rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from lattice.content.v1 import content_pb2 as pb
from pydantic import AwareDatetime, BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.routes.content.apps import ServedItem, served_item
from gateway.routes.content.ops import actor
from gateway.routes.content.schemas import Locale
from services.runtime.editions import Edition
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1/ops/content", tags=["content"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
SLOT_KEY = r"^[a-z][a-z0-9_-]{1,39}(?:/[a-z0-9][a-z0-9_-]{0,38}){1,4}$"
NAME = r"^[A-Za-z0-9_.:-]{1,40}$"
TAGS = r"^([A-Za-z0-9_.:-]{1,40}(?:,[A-Za-z0-9_.:-]{1,40}){0,19})?$"


class PreviewCandidate(BaseModel):
    placement_id: str
    priority: int
    weight: int
    share_bps: int
    cap_per_day: int
    fallback: bool
    item: ServedItem


class SlotPreview(BaseModel):
    slot_key: str
    edition: str
    at: datetime | None
    candidates: list[PreviewCandidate]


@router.get(
    "/preview", operation_id="preview_slot", summary="Preview what a slot serves", response_model=SlotPreview
)
async def preview_slot(
    clients: ClientsDep,
    operator: Viewer,
    slot_key: Annotated[str, Query(max_length=120, pattern=SLOT_KEY)],
    edition: Edition = "standard",
    locale: Locale = "zh-Hans",
    assurance_level: Annotated[int, Query(ge=0, le=4)] = 1,
    aum_tier: Annotated[str | None, Query(pattern=NAME)] = None,
    branch: Annotated[str | None, Query(pattern=NAME)] = None,
    tags: Annotated[str, Query(max_length=840, pattern=TAGS, description="comma-separated")] = "",
    at: Annotated[AwareDatetime | None, Query()] = None,
) -> SlotPreview:
    """The placements of the winning priority for such a customer now (or `at`), each with its chance of
    being shown, without counting a serve; a branch operator previews as a customer of its own branch."""
    viewer = pb.Viewer(
        edition=edition,
        assurance_level=assurance_level,
        aum_tier=aum_tier or "",
        branch=branch if branch is not None else operator.branch or "",
        tags=[t for t in tags.split(",") if t],
    )
    request = {"slot_key": slot_key, "viewer": viewer, "locales": [locale], "at": at}
    resp = await clients.content.PreviewSlot(to_proto(pb.PreviewSlotRequest, request, actor=actor(operator)))
    # each candidate's item is shaped by served_item (it names the candidate's placement)
    candidates = [
        from_proto(PreviewCandidate, c, item=served_item(c.item, c.placement_id)) for c in resp.candidates
    ]
    return from_proto(SlotPreview, resp, candidates=candidates)
