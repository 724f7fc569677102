"""Resource slots and placements: head office manages all, a branch only placements aimed at it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from lattice.content.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.content.audit import record_audit
from services.content.catalogue import Actor, check_id, new_id
from services.content.models import ContentItem, Placement, ResourceSlot
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.editions import EDITIONS
from services.runtime.errors import AlreadyExists, Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.outbox import record_event
from services.runtime.paging import read_page
from services.runtime.proto_mapping import to_proto

PLACEMENT_CHANGED = "content.placement.changed"
_POSITION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,38}(?:/[a-z0-9][a-z0-9_-]{0,38}){0,3}$")
_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")
TARGETING_LISTS = ("editions", "aum_tiers", "branches", "tags")
MAX_LIST = 20


@dataclass(frozen=True)
class PlacementSpec:
    """What an operator asks for; the service checks it and the operator's scope."""

    slot_key: str
    item_id: str
    fallback_item_id: str | None = None
    priority: int = 0
    weight: int = 1
    starts_at: Any = None
    ends_at: Any = None
    daily_start: str = ""
    daily_end: str = ""
    targeting: dict[str, Any] | None = None
    cap_per_day: int = 0


def create_slot(
    *, engine: Engine, actor: Actor, app_id: str, position: str, editions: list[str], description: str = ""
) -> ResourceSlot:
    """Head office opens a slot in an app; branches place content into existing slots."""
    actor.require("operator")
    if actor.branch:
        raise Forbidden("head_office_only", "only head office opens resource slots")
    check_id(app_id, "app_id")
    if not _POSITION.match(position):
        raise InvalidInput("invalid_position", "position is up to 4 segments like home/top-banner")
    if unknown := set(editions) - set(EDITIONS):
        raise InvalidInput("invalid_edition", f"unknown editions: {', '.join(sorted(unknown))}")
    slot = ResourceSlot(
        slot_key=f"{app_id}/{position}",
        app_id=app_id,
        position=position,
        editions=sorted(set(editions)),
        description=description[:200],
    )
    with transaction(engine) as session:
        if session.get(ResourceSlot, slot.slot_key) is not None:
            raise AlreadyExists("slot_exists", f"slot {slot.slot_key} exists")
        session.add(slot)
        record_audit(session, actor=actor, entity="slot", entity_id=slot.slot_key, action="created")
    return slot


def list_slots(
    *, engine: Engine, actor: Actor, app_id: str = "", size: int, token: str
) -> tuple[list[ResourceSlot], str]:
    """A page of slots by key. Slots are head office's and shared: every branch places into them, so
    every operator sees them."""
    actor.require("viewer")
    with read_session(engine) as session:
        stmt = select(ResourceSlot)
        if app_id:
            stmt = stmt.where(ResourceSlot.app_id == app_id)
        return read_page(session, stmt, [(col(ResourceSlot.slot_key), False)], token=token, size=size)


def _targeting(actor: Actor, raw: dict[str, Any] | None) -> dict[str, Any]:
    raw = dict(raw or {})
    targeting: dict[str, Any] = {name: sorted(set(raw.get(name) or [])) for name in TARGETING_LISTS}
    targeting["min_assurance_level"] = int(raw.get("min_assurance_level") or 0)
    if not 0 <= targeting["min_assurance_level"] <= 4:
        raise InvalidInput("invalid_targeting", "min_assurance_level is 0-4")
    for name in TARGETING_LISTS:
        values = targeting[name]
        if len(values) > MAX_LIST or not all(_TAG.match(v) for v in values):
            raise InvalidInput("invalid_targeting", f"{name}: at most {MAX_LIST} names of 1-40 characters")
    if unknown := set(targeting["editions"]) - set(EDITIONS):
        raise InvalidInput("invalid_edition", f"unknown editions: {', '.join(sorted(unknown))}")
    if actor.branch:
        if targeting["branches"] not in ([], [actor.branch]):
            raise Forbidden("outside_branch_scope", "a branch targets only its own customers")
        targeting["branches"] = [actor.branch]
    return targeting


def _check(session: Session, actor: Actor, spec: PlacementSpec) -> None:
    """A branch places its own items or head office's; another branch's item is absent to it."""
    if session.get(ResourceSlot, spec.slot_key) is None:
        raise NotFound("slot_not_found", f"no slot {spec.slot_key}")
    for item_id in filter(None, (spec.item_id, spec.fallback_item_id)):
        item = session.get(ContentItem, item_id)
        placeable = item is not None and (actor.sees(item.owner_branch) or not item.owner_branch)
        if item is None or not placeable or item.status != "active":
            raise NotFound("item_not_found", f"no active item {item_id}")
    if not 0 <= spec.priority <= 1000 or not 1 <= spec.weight <= 10_000 or not 0 <= spec.cap_per_day <= 100:
        raise InvalidInput("invalid_placement", "priority 0-1000, weight 1-10000, cap_per_day 0-100")
    if (
        bool(spec.daily_start) != bool(spec.daily_end)
        or any(t and not _TIME.match(t) for t in (spec.daily_start, spec.daily_end))
        or (spec.daily_start and spec.daily_start == spec.daily_end)
    ):
        raise InvalidInput("invalid_schedule", "a daily window needs distinct start and end as HH:MM")
    if spec.starts_at and spec.ends_at and spec.starts_at >= spec.ends_at:
        raise InvalidInput("invalid_schedule", "the schedule must end after it starts")


def _apply(placement: Placement, spec: PlacementSpec, targeting: dict[str, Any]) -> None:
    placement.item_id, placement.fallback_item_id = spec.item_id, spec.fallback_item_id or None
    placement.priority, placement.weight, placement.cap_per_day = spec.priority, spec.weight, spec.cap_per_day
    placement.starts_at, placement.ends_at = spec.starts_at, spec.ends_at
    placement.daily_start, placement.daily_end = spec.daily_start, spec.daily_end
    placement.targeting, placement.updated_at = targeting, utcnow()


def _changed(session: Session, actor: Actor, placement: Placement, change: str, reason: str = "") -> None:
    record_event(
        session,
        PLACEMENT_CHANGED,
        to_proto(events_pb2.PlacementChanged, placement, change=change, occurred_at=utcnow()),
    )
    record_audit(
        session,
        actor=actor,
        entity="placement",
        entity_id=placement.placement_id,
        action=change,
        reason=reason,
        details={"slot_key": placement.slot_key, "item_id": placement.item_id},
    )


def create_placement(
    *, engine: Engine, actor: Actor, spec: PlacementSpec, placement_id: str = ""
) -> Placement:
    """Place an item in a slot; a branch operator's placement is aimed at its branch only."""
    actor.require("operator")
    placement_id = placement_id or new_id("plc")
    check_id(placement_id, "placement_id")
    targeting = _targeting(actor, spec.targeting)
    placement = Placement(
        placement_id=placement_id,
        slot_key=spec.slot_key,
        item_id=spec.item_id,
        owner_branch=actor.branch,
        created_by=actor.operator_id,
    )
    _apply(placement, spec, targeting)
    with transaction(engine) as session:
        _check(session, actor, spec)
        if session.get(Placement, placement_id) is not None:
            raise AlreadyExists("placement_exists", f"placement {placement_id} exists")
        session.add(placement)
        _changed(session, actor, placement, "created")
    return placement


def _owned(session: Session, actor: Actor, placement_id: str) -> Placement:
    actor.require("operator")
    placement = session.exec(
        select(Placement).where(Placement.placement_id == placement_id).with_for_update()
    ).first()
    if placement is None:
        raise NotFound("placement_not_found", f"no placement {placement_id}")
    actor.require_visible(placement.owner_branch, "placement", placement_id)
    if not placement.active:
        raise Conflict("placement_removed", f"placement {placement_id} was removed")
    return placement


def update_placement(*, engine: Engine, actor: Actor, placement_id: str, spec: PlacementSpec) -> Placement:
    """Change a placement within the operator's scope; the slot stays the same."""
    targeting = _targeting(actor, spec.targeting)
    with transaction(engine) as session:
        placement = _owned(session, actor, placement_id)
        if spec.slot_key and spec.slot_key != placement.slot_key:
            raise InvalidInput("slot_immutable", "a placement stays in its slot; create a new one")
        spec = replace(spec, slot_key=placement.slot_key)
        _check(session, actor, spec)
        _apply(placement, spec, targeting)
        session.add(placement)
        _changed(session, actor, placement, "updated")
    return placement


def remove_placement(*, engine: Engine, actor: Actor, placement_id: str, reason: str = "") -> Placement:
    with transaction(engine) as session:
        placement = _owned(session, actor, placement_id)
        placement.active, placement.updated_at = False, utcnow()
        session.add(placement)
        _changed(session, actor, placement, "removed", reason)
    return placement


def list_placements(
    *, engine: Engine, actor: Actor, slot_key: str, size: int, token: str, include_inactive: bool = False
) -> tuple[list[Placement], str]:
    """A page of the placements of a slot the operator may see (highest priority first, then by id); a
    branch sees only its own."""
    actor.require("viewer")
    with read_session(engine) as session:
        if session.get(ResourceSlot, slot_key) is None:
            raise NotFound("slot_not_found", f"no slot {slot_key}")
        stmt = select(Placement).where(Placement.slot_key == slot_key)
        if actor.branch:
            stmt = stmt.where(Placement.owner_branch == actor.branch)
        if not include_inactive:
            stmt = stmt.where(col(Placement.active).is_(True))
        order = [(col(Placement.priority), True), (col(Placement.placement_id), False)]
        return read_page(session, stmt, order, token=token, size=size)
