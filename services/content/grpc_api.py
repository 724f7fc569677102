"""ContentService over gRPC: protobuf <-> domain; errors are mapped by the runtime interceptor."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc

from services.content import audit, catalogue, review, slots
from services.content.convert import (
    actor_from_pb,
    audit_to_pb,
    item_to_pb,
    placement_to_pb,
    spec_from_pb,
    variants_from_pb,
    viewer_from_pb,
)
from services.content.preview import PreviewRpcs
from services.content.rendering import locale_chain, render_item
from services.content.serving import Choice, choose_from, needs_database
from services.content.slot_cache import SlotCache
from services.runtime.clock import utcnow
from services.runtime.errors import InvalidInput, NotFound, Rejected
from services.runtime.paging import page_size
from services.runtime.proto_mapping import to_proto
from services.runtime.service import ServiceContext
from services.runtime.sorting import start_of

MAX_PAGE = 100
MAX_REASON = 500
MAX_CHAINS = 1024


def _reason(text: str) -> str:
    if len(text) > MAX_REASON:
        raise InvalidInput("reason_too_long", f"reasons are limited to {MAX_REASON} characters")
    return text


# The item and placement writes answer with one message per RPC, of the same fields.
ItemReply = TypeVar(
    "ItemReply",
    pb.CreateItemResponse,
    pb.EditItemResponse,
    pb.ApproveItemResponse,
    pb.RejectItemResponse,
    pb.PublishItemResponse,
    pb.ArchiveItemResponse,
    pb.RollbackItemResponse,
)
PlacementReply = TypeVar(
    "PlacementReply", pb.CreatePlacementResponse, pb.UpdatePlacementResponse, pb.RemovePlacementResponse
)


class ContentApi(PreviewRpcs, content_pb2_grpc.ContentServiceServicer):
    def __init__(
        self,
        ctx: ServiceContext,
        *,
        cache: SlotCache,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self._ctx = ctx
        self._engine = ctx.engine
        self._cache = cache
        self._clock = clock
        self._rng = rng or random.Random()
        self._chains: dict[tuple[str, ...], tuple[str, ...]] = {}

    async def _item_write(self, reply: type[ItemReply], fn, **kwargs) -> ItemReply:
        item, versions = await asyncio.to_thread(fn, engine=self._engine, **kwargs)
        # an item no longer active (archived) is withdrawn: its snapshots are dropped, not served on;
        # this replica's snapshots holding the item are rebuilt before the write answers
        slot_keys = self._cache.invalidate_item(item.item_id, withdrawn=item.status != "active")
        if slot_keys:
            await asyncio.to_thread(self._cache.refresh, slot_keys)
        return reply(item=item_to_pb(item, versions))

    async def CreateItem(self, request: pb.CreateItemRequest, context) -> pb.CreateItemResponse:
        return await self._item_write(
            pb.CreateItemResponse,
            catalogue.create_item,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
            type=request.type,
            product_category=request.product_category,
            standard_fallback=request.standard_fallback,
            variants=variants_from_pb(request.variants),
        )

    async def GetItem(self, request: pb.GetItemRequest, context) -> pb.GetItemResponse:
        item, versions = await asyncio.to_thread(
            catalogue.get_item,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
        )
        return pb.GetItemResponse(item=item_to_pb(item, versions))

    async def ListItems(self, request: pb.ListItemsRequest, context) -> pb.ListItemsResponse:
        size = min(request.page_size or 50, MAX_PAGE)
        items = await asyncio.to_thread(
            catalogue.list_items,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            limit=size + 1,
            after=request.page_token,
            status=request.status,
            stage=request.stage,
            sort=request.sort,
        )
        next_token = catalogue.ITEM_ORDER.next_token(items, size, sort=request.sort)
        return pb.ListItemsResponse(items=[item_to_pb(i) for i in items[:size]], next_page_token=next_token)

    async def ListReviewQueue(
        self, request: pb.ListReviewQueueRequest, context
    ) -> pb.ListReviewQueueResponse:
        if request.count_only:
            total = await asyncio.to_thread(
                catalogue.review_queue_length, engine=self._engine, actor=actor_from_pb(request.actor)
            )
            return pb.ListReviewQueueResponse(total=total)
        size = min(request.page_size or 50, MAX_PAGE)
        found = await asyncio.to_thread(
            catalogue.review_queue,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            limit=size + 1,
            after=request.page_token,
            sort=request.sort,
            start=start_of(request.after_time, request.after_id),
        )
        last = found[size - 1][1] if len(found) > size else None  # the version: its time orders the queue
        next_token = catalogue.REVIEW_ORDER.token(last, sort=request.sort) if last else ""
        return pb.ListReviewQueueResponse(
            items=[item_to_pb(item, [version]) for item, version in found[:size]], next_page_token=next_token
        )

    async def EditItem(self, request: pb.EditItemRequest, context) -> pb.EditItemResponse:
        return await self._item_write(
            pb.EditItemResponse,
            catalogue.edit_item,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
            variants=variants_from_pb(request.variants),
            reason=_reason(request.reason),
        )

    async def SubmitItem(self, request: pb.SubmitItemRequest, context) -> pb.SubmitItemResponse:
        (item, versions), findings = await asyncio.to_thread(
            review.submit_item,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
            reason=_reason(request.reason),
        )
        return pb.SubmitItemResponse(
            item=item_to_pb(item, versions), findings=[to_proto(pb.ComplianceFinding, f) for f in findings]
        )

    async def CheckItemCompliance(
        self, request: pb.CheckItemComplianceRequest, context
    ) -> pb.CheckItemComplianceResponse:
        item, versions = await asyncio.to_thread(
            catalogue.get_item,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
        )
        wanted = request.version or versions[-1].version
        version = next((v for v in versions if v.version == wanted), None)
        if version is None:
            raise NotFound("version_not_found", f"item {request.item_id} has no version {wanted}")
        findings = review.findings_of(item, version)
        return pb.CheckItemComplianceResponse(
            version=wanted, findings=[to_proto(pb.ComplianceFinding, f) for f in findings]
        )

    async def ApproveItem(self, request: pb.ApproveItemRequest, context) -> pb.ApproveItemResponse:
        overrides = {o.rule_id: _reason(o.reason) for o in request.overrides}
        try:
            return await self._item_write(
                pb.ApproveItemResponse,
                review.approve_item,
                actor=actor_from_pb(request.actor),
                item_id=request.item_id,
                overrides=overrides,
            )
        except review.ComplianceBlocked as blocked:
            # the blocking findings go back as the status's structured detail: callers need not recompute
            violation = pb.ComplianceViolation(
                findings=[to_proto(pb.ComplianceFinding, f) for f in blocked.findings]
            )
            raise Rejected(blocked.reason, blocked.detail, details=violation) from None

    async def RejectItem(self, request: pb.RejectItemRequest, context) -> pb.RejectItemResponse:
        return await self._item_write(
            pb.RejectItemResponse,
            review.reject_item,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
            reason=_reason(request.reason),
        )

    async def PublishItem(self, request: pb.PublishItemRequest, context) -> pb.PublishItemResponse:
        return await self._item_write(
            pb.PublishItemResponse,
            review.publish_item,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
            reason=_reason(request.reason),
        )

    async def ArchiveItem(self, request: pb.ArchiveItemRequest, context) -> pb.ArchiveItemResponse:
        return await self._item_write(
            pb.ArchiveItemResponse,
            review.archive_item,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
            reason=_reason(request.reason),
        )

    async def RollbackItem(self, request: pb.RollbackItemRequest, context) -> pb.RollbackItemResponse:
        return await self._item_write(
            pb.RollbackItemResponse,
            review.rollback_item,
            actor=actor_from_pb(request.actor),
            item_id=request.item_id,
            version=request.version,
            reason=_reason(request.reason),
        )

    async def ListAuditEntries(
        self, request: pb.ListAuditEntriesRequest, context
    ) -> pb.ListAuditEntriesResponse:
        entries, token = await asyncio.to_thread(
            audit.list_audit,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            entity=request.entity,
            entity_id=request.entity_id,
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListAuditEntriesResponse(entries=[audit_to_pb(e) for e in entries], next_page_token=token)

    async def CreateSlot(self, request: pb.CreateSlotRequest, context) -> pb.CreateSlotResponse:
        s = request.slot
        slot = await asyncio.to_thread(
            slots.create_slot,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            app_id=s.app_id,
            position=s.position,
            editions=list(s.editions),
            description=s.description,
        )
        return pb.CreateSlotResponse(slot=to_proto(pb.Slot, slot))

    async def ListSlots(self, request: pb.ListSlotsRequest, context) -> pb.ListSlotsResponse:
        found, token = await asyncio.to_thread(
            slots.list_slots,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            app_id=request.app_id,
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListSlotsResponse(slots=[to_proto(pb.Slot, s) for s in found], next_page_token=token)

    async def _placement_write(self, reply: type[PlacementReply], fn, **kwargs) -> PlacementReply:
        placement = await asyncio.to_thread(fn, engine=self._engine, **kwargs)
        if slot_keys := self._cache.invalidate_slot(placement.slot_key):
            await asyncio.to_thread(self._cache.refresh, slot_keys)  # served here once the write answers
        return reply(placement=placement_to_pb(placement))

    async def CreatePlacement(
        self, request: pb.CreatePlacementRequest, context
    ) -> pb.CreatePlacementResponse:
        return await self._placement_write(
            pb.CreatePlacementResponse,
            slots.create_placement,
            actor=actor_from_pb(request.actor),
            spec=spec_from_pb(request.placement),
            placement_id=request.placement.placement_id,
        )

    async def UpdatePlacement(
        self, request: pb.UpdatePlacementRequest, context
    ) -> pb.UpdatePlacementResponse:
        return await self._placement_write(
            pb.UpdatePlacementResponse,
            slots.update_placement,
            actor=actor_from_pb(request.actor),
            placement_id=request.placement.placement_id,
            spec=spec_from_pb(request.placement),
        )

    async def RemovePlacement(
        self, request: pb.RemovePlacementRequest, context
    ) -> pb.RemovePlacementResponse:
        return await self._placement_write(
            pb.RemovePlacementResponse,
            slots.remove_placement,
            actor=actor_from_pb(request.actor),
            placement_id=request.placement_id,
            reason=_reason(request.reason),
        )

    async def ListPlacements(self, request: pb.ListPlacementsRequest, context) -> pb.ListPlacementsResponse:
        found, token = await asyncio.to_thread(
            slots.list_placements,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            slot_key=request.slot_key,
            include_inactive=request.include_inactive,
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListPlacementsResponse(
            placements=[placement_to_pb(p) for p in found], next_page_token=token
        )

    async def ServeSlot(self, request: pb.ServeSlotRequest, context) -> pb.ServeSlotResponse:
        viewer = viewer_from_pb(request.viewer)
        if not 3 <= len(request.slot_key) <= 120 or len(request.locales) > 10:
            raise InvalidInput("invalid_request", "a slot key of 3-120 characters and at most 10 locales")
        now = self._clock()
        snapshot, current = self._cache.lookup(request.slot_key)
        if snapshot is None:  # the slot's first serve (or a withdrawal) builds its snapshot; others wait
            snapshot = await asyncio.to_thread(self._cache.get, request.slot_key)
        elif not current:  # the previous version serves on while a thread rebuilds it
            self._cache.refresh_in_background(request.slot_key)
        if needs_database(snapshot, viewer):
            choice = await asyncio.to_thread(
                choose_from, snapshot, engine=self._engine, viewer=viewer, now=now, rng=self._rng
            )
        else:  # a pure in-memory choice: no thread hop on the hot path
            choice = choose_from(snapshot, engine=self._engine, viewer=viewer, now=now, rng=self._rng)
        if choice is None:
            return pb.ServeSlotResponse(served=False)
        return pb.ServeSlotResponse(
            served=True, placement_id=choice.placement_id, item=self._rendered(choice, request.locales)
        )

    def _rendered(self, choice: Choice, locales: Sequence[str]) -> pb.RenderedItem:
        """The chosen item as sent, made once per item version, edition and locale."""
        key = tuple(locales)
        chain = self._chains.get(key)
        if chain is None:
            if len(self._chains) >= MAX_CHAINS:  # the preferences are the client's: keep the cache bounded
                self._chains.clear()
            chain = self._chains[key] = locale_chain(list(key))
        item = choice.item
        locale = item.locale_for(edition=choice.edition, chain=chain)
        rendered = item.served.get((choice.edition, locale))
        if rendered is None:
            rendered = to_proto(pb.RenderedItem, item.render(edition=choice.edition, chain=(locale,)))
            item.served[(choice.edition, locale)] = rendered
        return rendered

    async def GetRenderedItem(
        self, request: pb.GetRenderedItemRequest, context
    ) -> pb.GetRenderedItemResponse:
        r = await asyncio.to_thread(
            render_item,
            engine=self._engine,
            item_id=request.item_id,
            edition=request.edition,
            locale=request.locale,
            variables=dict(request.variables),
        )
        return to_proto(pb.GetRenderedItemResponse, r)
