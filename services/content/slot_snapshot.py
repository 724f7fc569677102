"""A slot's serving snapshot: its servable placements per edition, built from the database per change.

A snapshot holds, for each edition, the slot's active placements whose item (or fallback item) has a
servable published variant for that edition, grouped by priority, highest first. Serving then only
checks the schedule, the customer's targeting attributes and the frequency caps. A build reads the
placements as plain rows (no ORM objects) and shares the parsed targeting between placements: at
10^5 placements it is the only work proportional to the catalogue, and it happens per change, never
per request (the cache that keeps snapshots and rebuilds them is in `slot_cache`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, type_coerce
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.content.models import ContentItem, ItemVersion, Placement, ResourceSlot
from services.content.rendering import PublishedItem
from services.runtime.db import read_session
from services.runtime.editions import EDITIONS
from services.runtime.errors import NotFound

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHUNK = 500


def _time_of_day(value: str) -> dtime | None:
    return dtime(int(value[:2]), int(value[3:5])) if value else None


@dataclass(slots=True, eq=False)
class Candidate:
    """A placement as serving needs it: no database access left to do, except for caps.

    Never changed once built (not frozen only because a frozen dataclass costs twice as much to
    build, which counts at 10^5 placements); compared by identity.
    """

    placement_id: str
    priority: int
    weight: int
    starts_at: datetime | None
    ends_at: datetime | None
    daily_start: dtime | None
    daily_end: dtime | None
    min_assurance_level: int
    aum_tiers: frozenset[str]
    branches: frozenset[str]
    tags: frozenset[str]
    cap_per_day: int
    item: PublishedItem | None
    fallback: PublishedItem | None

    def matches(self, *, assurance_level: int, aum_tier: str, branch: str, tags: Iterable[str]) -> bool:
        return (
            assurance_level >= self.min_assurance_level
            and (not self.aum_tiers or aum_tier in self.aum_tiers)
            and (not self.branches or branch in self.branches)
            and (not self.tags or not self.tags.isdisjoint(tags))
        )

    def in_schedule(self, now: datetime) -> bool:
        """Inside the absolute window and the daily window (Asia/Shanghai); an end is exclusive."""
        if (self.starts_at and now < self.starts_at) or (self.ends_at and now >= self.ends_at):
            return False
        if self.daily_start is None or self.daily_end is None:
            return True
        local = now.astimezone(SHANGHAI).time()
        if self.daily_start < self.daily_end:
            return self.daily_start <= local < self.daily_end
        return local >= self.daily_start or local < self.daily_end

    def content_for(self, edition: str) -> tuple[PublishedItem, str] | None:
        """The item and variant edition shown to `edition`: the placed item, else its fallback item."""
        for item in (self.item, self.fallback):
            if item is not None and (served := item.edition_for(edition)) is not None:
                return item, served
        return None


Tiers = tuple[tuple[Candidate, ...], ...]  # candidates grouped by priority, highest first


def _tiers(candidates: list[Candidate]) -> Tiers:
    ordered = sorted(candidates, key=lambda c: -c.priority)
    return tuple(tuple(group) for _, group in groupby(ordered, key=lambda c: c.priority))


def _merge(a: Tiers, b: Tiers) -> Tiers:
    """Two tier lists as one, equal priorities joined."""
    merged: list[tuple[Candidate, ...]] = []
    i = j = 0
    while i < len(a) or j < len(b):
        pa = a[i][0].priority if i < len(a) else -1
        pb = b[j][0].priority if j < len(b) else -1
        if pa == pb:
            merged.append(a[i] + b[j])
            i, j = i + 1, j + 1
        elif pa > pb:
            merged.append(a[i])
            i += 1
        else:
            merged.append(b[j])
            j += 1
    return tuple(merged)


@dataclass(frozen=True)
class EditionIndex:
    """The servable candidates of one edition: those for every branch, and those aimed at branches."""

    general: Tiers
    by_branch: dict[str, Tiers]
    capped_branches: frozenset[str]  # "" when a placement for every branch has a frequency cap
    # a branch's tiers merged with the general ones, made on the branch's first serve (only for
    # branches with placements of their own, so bounded by the snapshot)
    merged: dict[str, Tiers] = field(default_factory=dict, compare=False, repr=False)

    def capped_for(self, branch: str) -> bool:
        return "" in self.capped_branches or branch in self.capped_branches

    def tiers_for(self, branch: str) -> Tiers:
        local = self.by_branch.get(branch, ()) if branch else ()
        if not local:
            return self.general
        if not self.general:
            return local
        merged = self.merged.get(branch)
        if merged is None:
            merged = self.merged[branch] = _merge(self.general, local)
        return merged


@dataclass(frozen=True)
class SlotSnapshot:
    slot_key: str
    editions: dict[str, EditionIndex]
    item_ids: frozenset[str]
    built_at: float
    version: int = 0  # the cache's invalidation counter when the build began

    def tiers_for(self, *, edition: str, branch: str) -> Tiers:
        index = self.editions.get(edition)
        return index.tiers_for(branch) if index is not None else ()

    def counts_caps(self, *, edition: str, branch: str) -> bool:
        """Whether serving this edition and branch may have to read or write frequency-cap counts."""
        index = self.editions.get(edition)
        return index is not None and index.capped_for(branch)


def _published(session: Session, item_ids: set[str]) -> dict[str, PublishedItem]:
    found: dict[str, PublishedItem] = {}
    ids = sorted(item_ids)
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(ContentItem, ItemVersion)
            .join(
                ItemVersion,
                (col(ItemVersion.item_id) == col(ContentItem.item_id))
                & (col(ItemVersion.version) == col(ContentItem.published_version)),
            )
            .where(
                col(ContentItem.item_id).in_(ids[start : start + CHUNK]),
                ContentItem.status == "active",
                ItemVersion.status == "published",
            )
        )
        for item, version in session.exec(stmt):
            found[item.item_id] = PublishedItem(
                item.item_id, version.version, item.type, item.standard_fallback, version.variants
            )
    return found


_PLACEMENT_COLUMNS = (
    col(Placement.placement_id),
    col(Placement.item_id),
    col(Placement.fallback_item_id),
    col(Placement.priority),
    col(Placement.weight),
    col(Placement.starts_at),
    col(Placement.ends_at),
    col(Placement.daily_start),
    col(Placement.daily_end),
    # as its stored text: placements share a few targetings, each parsed once per build
    type_coerce(Placement.targeting, String).label("targeting"),
    col(Placement.cap_per_day),
)


@dataclass(frozen=True)
class _Targeting:
    min_assurance_level: int
    aum_tiers: frozenset[str]
    branches: frozenset[str]
    tags: frozenset[str]
    editions: tuple[str, ...]  # the slot's editions aimed at


class _Shared:
    """Values many placements have in common, parsed and built once per snapshot."""

    def __init__(self, items: dict[str, PublishedItem], slot_editions: list[str]) -> None:
        self.items = items
        self.slot_editions = slot_editions
        self._sets: dict[tuple[str, ...], frozenset[str]] = {}
        self._times: dict[str, dtime | None] = {}
        self._editions: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._servable: dict[tuple[str, str, tuple[str, ...]], tuple[str, ...]] = {}
        self._targetings: dict[Any, _Targeting] = {}

    def targeting(self, stored: Any) -> _Targeting:
        """A placement's targeting, parsed once per distinct stored text."""
        key = stored if isinstance(stored, str) else json.dumps(stored, sort_keys=True)
        found = self._targetings.get(key)
        if found is None:
            t = json.loads(key) if isinstance(key, str) else {}
            found = self._targetings[key] = _Targeting(
                min_assurance_level=int(t.get("min_assurance_level") or 0),
                aum_tiers=self.set_of(t.get("aum_tiers")),
                branches=self.set_of(t.get("branches")),
                tags=self.set_of(t.get("tags")),
                editions=self.editions(t.get("editions")),
            )
        return found

    def set_of(self, values: Any) -> frozenset[str]:
        key = tuple(values or ())
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = frozenset(key)
        return found

    def time_of_day(self, value: str) -> dtime | None:
        if value not in self._times:
            self._times[value] = _time_of_day(value)
        return self._times[value]

    def editions(self, wanted: Any) -> tuple[str, ...]:
        """The slot's editions a placement aims at (all of them when it names none)."""
        key = tuple(wanted or ())
        found = self._editions.get(key)
        if found is None:
            chosen = set(key or self.slot_editions)
            found = self._editions[key] = tuple(e for e in self.slot_editions if e in chosen)
        return found

    def servable(
        self, c: Candidate, item_id: str, fallback_id: str, editions: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The editions among those aimed at for which the item or its fallback has a variant."""
        key = (item_id, fallback_id, editions)
        found = self._servable.get(key)
        if found is None:
            found = self._servable[key] = tuple(e for e in editions if c.content_for(e) is not None)
        return found


def _candidate(row: Any, shared: _Shared, targeting: _Targeting) -> Candidate:
    items = shared.items
    return Candidate(
        placement_id=row.placement_id,
        priority=row.priority,
        weight=row.weight,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        daily_start=shared.time_of_day(row.daily_start),
        daily_end=shared.time_of_day(row.daily_end),
        min_assurance_level=targeting.min_assurance_level,
        aum_tiers=targeting.aum_tiers,
        branches=targeting.branches,
        tags=targeting.tags,
        cap_per_day=row.cap_per_day,
        item=items.get(row.item_id),
        fallback=items.get(row.fallback_item_id or ""),
    )


def build_snapshot(*, engine: Engine, slot_key: str, built_at: float = 0.0, version: int = 0) -> SlotSnapshot:
    """Read a slot's active placements and their published items once, and index them per edition."""
    with read_session(engine) as session:
        slot = session.get(ResourceSlot, slot_key)
        if slot is None:
            raise NotFound("slot_not_found", f"no slot {slot_key}")
        stmt = select(*_PLACEMENT_COLUMNS).where(  # type: ignore[call-overload]  # sqlmodel's select overloads stop at four columns
            Placement.slot_key == slot_key, col(Placement.active).is_(True)
        )
        rows = session.exec(stmt).all()
        item_ids = {i for r in rows for i in (r.item_id, r.fallback_item_id) if i}
        items = _published(session, item_ids)
    slot_editions = list(slot.editions or EDITIONS)
    shared = _Shared(items, slot_editions)
    general: dict[str, list[Candidate]] = defaultdict(list)
    local: dict[str, dict[str, list[Candidate]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        targeting = shared.targeting(row.targeting)
        c = _candidate(row, shared, targeting)
        for edition in shared.servable(c, row.item_id, row.fallback_item_id or "", targeting.editions):
            if c.branches:
                for branch in c.branches:
                    local[edition][branch].append(c)
            else:
                general[edition].append(c)
    editions = {
        e: EditionIndex(
            _tiers(general[e]),
            {b: _tiers(cs) for b, cs in local[e].items()},
            frozenset(
                ([""] if any(c.cap_per_day for c in general[e]) else [])
                + [b for b, cs in local[e].items() if any(c.cap_per_day for c in cs)]
            ),
        )
        for e in slot_editions
    }
    return SlotSnapshot(slot_key, editions, frozenset(item_ids), built_at, version)
