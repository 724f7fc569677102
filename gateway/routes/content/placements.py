"""The content desk's slots and placements under `/v1/ops/content`: head office opens resource slots in
the apps (shared with every branch); operators place items in them, a branch operator only for its own
branch (another branch's placement is 404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from lattice.content.v1 import content_pb2 as pb

from gateway.clients import ClientsDep
from gateway.paging import Page, PageSize, PageToken
from gateway.routes.content.ops import Author, ContentAuditPage, Viewer, actor, audit_page
from gateway.routes.content.public import PlacementPublic, SlotPublic
from gateway.routes.content.schemas import PlacementCreate, PlacementFields, SlotCreate, Slug
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

router = APIRouter(prefix="/v1/ops/content", tags=["content"])


class SlotPage(Page[SlotPublic]):
    """One page of resource slots, by slot key."""


class PlacementPage(Page[PlacementPublic]):
    """One page of a slot's placements, highest priority first, then by id."""


@router.post(
    "/slots",
    operation_id="create_slot",
    summary="Open a resource slot",
    status_code=status.HTTP_201_CREATED,
    response_model=SlotPublic,
)
async def create_slot(body: SlotCreate, clients: ClientsDep, operator: Author) -> SlotPublic:
    """Open a resource slot in an app (head office)."""
    request = pb.CreateSlotRequest(actor=actor(operator), slot=to_proto(pb.Slot, body))
    return from_proto(SlotPublic, (await clients.content.CreateSlot(request)).slot)


@router.get("/slots", operation_id="list_slots", summary="List resource slots", response_model=SlotPage)
async def list_slots(
    clients: ClientsDep,
    operator: Viewer,
    app_id: Annotated[str, Query(pattern=r"^([a-z][a-z0-9_-]{1,39})?$")] = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> SlotPage:
    """The resource slots of every app, by slot key (app, then position)."""
    resp = await clients.content.ListSlots(
        pb.ListSlotsRequest(actor=actor(operator), app_id=app_id, page_size=page_size, page_token=page_token)
    )
    return SlotPage.of(from_protos(SlotPublic, resp.slots), resp.next_page_token)


@router.post(
    "/placements",
    operation_id="create_placement",
    summary="Place an item in a slot",
    status_code=status.HTTP_201_CREATED,
    response_model=PlacementPublic,
)
async def create_placement(body: PlacementCreate, clients: ClientsDep, operator: Author) -> PlacementPublic:
    """Place an item in a slot; a branch operator's placement targets its own branch."""
    resp = await clients.content.CreatePlacement(
        pb.CreatePlacementRequest(actor=actor(operator), placement=to_proto(pb.Placement, body))
    )
    return from_proto(PlacementPublic, resp.placement)


@router.get(
    "/placements",
    operation_id="list_placements",
    summary="List placements",
    response_model=PlacementPage,
)
async def list_placements(
    clients: ClientsDep,
    operator: Viewer,
    slot_key: Annotated[
        str, Query(max_length=120, pattern=r"^[a-z][a-z0-9_-]{1,39}(?:/[a-z0-9][a-z0-9_-]{0,38}){1,4}$")
    ],
    include_inactive: bool = False,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> PlacementPage:
    """A slot's placements in the operator's scope, highest priority first, with their targeting and
    schedule."""
    resp = await clients.content.ListPlacements(
        pb.ListPlacementsRequest(
            actor=actor(operator),
            slot_key=slot_key,
            include_inactive=include_inactive,
            page_size=page_size,
            page_token=page_token,
        )
    )
    return PlacementPage.of(from_protos(PlacementPublic, resp.placements), resp.next_page_token)


@router.put(
    "/placements/{placement_id}",
    operation_id="update_placement",
    summary="Change a placement",
    response_model=PlacementPublic,
)
async def update_placement(
    placement_id: Slug, body: PlacementFields, clients: ClientsDep, operator: Author
) -> PlacementPublic:
    """Change a placement: 404 for a branch operator on head office's or another branch's placement."""
    placement = to_proto(pb.Placement, body, placement_id=placement_id)
    resp = await clients.content.UpdatePlacement(
        pb.UpdatePlacementRequest(actor=actor(operator), placement=placement)
    )
    return from_proto(PlacementPublic, resp.placement)


@router.delete(
    "/placements/{placement_id}",
    operation_id="remove_placement",
    summary="Remove a placement",
    response_model=PlacementPublic,
)
async def remove_placement(
    placement_id: Slug,
    clients: ClientsDep,
    operator: Author,
    reason: Annotated[str, Query(max_length=500)] = "",
) -> PlacementPublic:
    """Take the placement out of its slot at once; the reason is kept in its audit trail."""
    resp = await clients.content.RemovePlacement(
        pb.RemovePlacementRequest(actor=actor(operator), placement_id=placement_id, reason=reason)
    )
    return from_proto(PlacementPublic, resp.placement)


@router.get(
    "/placements/{placement_id}/audit",
    operation_id="get_placement_audit_trail",
    summary="Get a placement's audit trail",
    response_model=ContentAuditPage,
)
async def placement_audit(
    placement_id: Slug,
    clients: ClientsDep,
    operator: Viewer,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> ContentAuditPage:
    """Who created, changed or removed the placement, and when (oldest first)."""
    return await audit_page(clients, operator, "placement", placement_id, page_size, page_token)
