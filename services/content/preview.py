"""Previewing a slot for operators: what a customer with given attributes would see, by the serving rules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from lattice.content.v1 import content_pb2 as pb
from sqlalchemy.engine import Engine

from services.content.catalogue import Actor
from services.content.convert import actor_from_pb, viewer_from_pb
from services.content.rendering import Rendered, locale_chain
from services.content.serving import Viewer
from services.content.slot_snapshot import build_snapshot
from services.runtime.clock import from_timestamp, to_timestamp, utcnow
from services.runtime.editions import EDITIONS
from services.runtime.errors import Forbidden, InvalidInput
from services.runtime.proto_mapping import to_proto
from services.runtime.service import ServiceContext

MAX_LOCALES = 10
MAX_TAGS = 20


@dataclass(frozen=True)
class Shown:
    placement_id: str
    priority: int
    weight: int
    share_bps: int
    cap_per_day: int
    fallback: bool
    item: Rendered


def preview_slot(
    *, engine: Engine, actor: Actor, slot_key: str, viewer: Viewer, locales: list[str], at: datetime
) -> list[Shown]:
    """The placements of the winning priority for `viewer` at `at`, each with its chance; counts nothing."""
    actor.require("viewer")
    if viewer.edition not in EDITIONS:
        raise InvalidInput("invalid_edition", f"unknown edition {viewer.edition}")
    if actor.branch and viewer.branch != actor.branch:
        raise Forbidden("branch_scope", "a branch operator previews as a customer of its own branch")
    # A fresh snapshot, not the serving cache: the preview shows what was just changed.
    snapshot = build_snapshot(engine=engine, slot_key=slot_key)
    chain = locale_chain(locales)
    for tier in snapshot.tiers_for(edition=viewer.edition, branch=viewer.branch):
        eligible = [
            c
            for c in tier
            if c.in_schedule(at)
            and c.matches(
                assurance_level=viewer.assurance_level,
                aum_tier=viewer.aum_tier,
                branch=viewer.branch,
                tags=viewer.tags,
            )
            and c.content_for(viewer.edition) is not None
        ]
        if not eligible:
            continue
        total = sum(c.weight for c in eligible) or 1
        shown = []
        for c in eligible:
            item, edition = c.content_for(viewer.edition)  # type: ignore[misc]  # content_for returns a pair typed loosely by the catalogue
            shown.append(
                Shown(
                    placement_id=c.placement_id,
                    priority=c.priority,
                    weight=c.weight,
                    share_bps=round(10_000 * c.weight / total),
                    cap_per_day=c.cap_per_day,
                    fallback=item is not c.item,
                    item=item.render(edition=edition, chain=chain),
                )
            )
        return shown
    return []


class PreviewRpcs:
    _ctx: ServiceContext

    async def PreviewSlot(self, request: pb.PreviewSlotRequest, context) -> pb.PreviewSlotResponse:
        too_many = len(request.locales) > MAX_LOCALES or len(request.viewer.tags) > MAX_TAGS
        if not 3 <= len(request.slot_key) <= 120 or too_many:
            raise InvalidInput("invalid_request", "a slot key of 3-120 characters, few locales and tags")
        at = from_timestamp(request.at) or utcnow()
        viewer = viewer_from_pb(request.viewer, customer_id="preview")
        shown = await asyncio.to_thread(
            preview_slot,
            engine=self._ctx.engine,
            actor=actor_from_pb(request.actor),
            slot_key=request.slot_key,
            viewer=viewer,
            locales=list(request.locales),
            at=at,
        )
        return pb.PreviewSlotResponse(
            slot_key=request.slot_key,
            edition=viewer.edition,
            at=to_timestamp(at),
            candidates=[to_proto(pb.PreviewCandidate, s) for s in shown],
        )
