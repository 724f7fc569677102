"""Precomputed eligibility per slot, kept in the process and dropped when content events say so.

A snapshot holds, for each edition, the slot's active placements whose item (or fallback item) has a
servable published variant for that edition, grouped by priority, highest first. Serving then only
checks the schedule, the customer's targeting attributes and the frequency caps.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import time as dtime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

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


@dataclass(frozen=True)
class Candidate:
    """A placement as serving needs it: no database access left to do, except for caps."""

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

    def capped_for(self, branch: str) -> bool:
        return "" in self.capped_branches or branch in self.capped_branches

    def tiers_for(self, branch: str) -> Tiers:
        local = self.by_branch.get(branch, ()) if branch else ()
        if not local:
            return self.general
        return _merge(self.general, local) if self.general else local


@dataclass(frozen=True)
class SlotSnapshot:
    slot_key: str
    editions: dict[str, EditionIndex]
    item_ids: frozenset[str]
    built_at: float

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


def _candidate(p: Placement, items: dict[str, PublishedItem]) -> Candidate:
    t: dict[str, Any] = p.targeting
    return Candidate(
        placement_id=p.placement_id,
        priority=p.priority,
        weight=p.weight,
        starts_at=p.starts_at,
        ends_at=p.ends_at,
        daily_start=_time_of_day(p.daily_start),
        daily_end=_time_of_day(p.daily_end),
        min_assurance_level=int(t.get("min_assurance_level") or 0),
        aum_tiers=frozenset(t.get("aum_tiers") or ()),
        branches=frozenset(t.get("branches") or ()),
        tags=frozenset(t.get("tags") or ()),
        cap_per_day=p.cap_per_day,
        item=items.get(p.item_id),
        fallback=items.get(p.fallback_item_id or ""),
    )


def build_snapshot(*, engine: Engine, slot_key: str, built_at: float = 0.0) -> SlotSnapshot:
    """Read a slot's active placements and their published items once, and index them per edition."""
    with read_session(engine) as session:
        slot = session.get(ResourceSlot, slot_key)
        if slot is None:
            raise NotFound("slot_not_found", f"no slot {slot_key}")
        stmt = select(Placement).where(Placement.slot_key == slot_key, col(Placement.active).is_(True))
        placements = list(session.exec(stmt))
        item_ids = {i for p in placements for i in (p.item_id, p.fallback_item_id) if i}
        items = _published(session, item_ids)
    slot_editions = slot.editions or list(EDITIONS)
    general: dict[str, list[Candidate]] = defaultdict(list)
    local: dict[str, dict[str, list[Candidate]]] = defaultdict(lambda: defaultdict(list))
    for p in placements:
        c = _candidate(p, items)
        for edition in set(p.targeting.get("editions") or slot_editions) & set(slot_editions):
            if c.content_for(edition) is None:
                continue
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
    return SlotSnapshot(slot_key, editions, frozenset(item_ids), built_at)


class SlotCache:
    """Snapshots per slot, built by one thread at a time per slot.

    While a stale snapshot is being rebuilt, other requests keep serving the stale one; a build that
    overlaps an invalidation is not kept.
    """

    def __init__(
        self, engine: Engine, *, max_age_s: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._max_age_s = max_age_s
        self._snapshots: dict[str, SlotSnapshot] = {}
        self._slots_by_item: dict[str, set[str]] = defaultdict(set)
        self._building: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._generation = 0
        self._lock = threading.Lock()

    def _fresh(self, snapshot: SlotSnapshot | None) -> bool:
        return snapshot is not None and self._clock() - snapshot.built_at <= self._max_age_s

    def peek(self, slot_key: str) -> SlotSnapshot | None:
        """The cached snapshot if it is fresh; never touches the database."""
        snapshot = self._snapshots.get(slot_key)
        return snapshot if self._fresh(snapshot) else None

    def get(self, slot_key: str) -> SlotSnapshot:
        """The snapshot of a slot, built from the database when missing or too old (blocking)."""
        snapshot = self._snapshots.get(slot_key)
        if self._fresh(snapshot):
            return snapshot  # type: ignore[return-value]  # a snapshot is immutable; callers read it as the public view
        with self._lock:
            building = self._building[slot_key]
        if not building.acquire(blocking=snapshot is None):
            return snapshot  # type: ignore[return-value]  # a snapshot is immutable; callers read it as the public view
        try:
            current = self._snapshots.get(slot_key)
            if self._fresh(current):
                return current  # type: ignore[return-value]  # a snapshot is immutable; callers read it as the public view
            generation = self._generation
            snapshot = build_snapshot(engine=self._engine, slot_key=slot_key, built_at=self._clock())
            with self._lock:
                if generation == self._generation:
                    self._snapshots[slot_key] = snapshot
                    for item_id in snapshot.item_ids:
                        self._slots_by_item[item_id].add(slot_key)
            return snapshot
        finally:
            building.release()
            if slot_key not in self._snapshots:
                with self._lock:
                    self._building.pop(slot_key, None)

    def invalidate_slot(self, slot_key: str) -> None:
        with self._lock:
            self._generation += 1
            self._snapshots.pop(slot_key, None)

    def invalidate_item(self, item_id: str) -> None:
        with self._lock:
            self._generation += 1
            for slot_key in self._slots_by_item.pop(item_id, set()):
                self._snapshots.pop(slot_key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._snapshots.clear()
            self._slots_by_item.clear()
