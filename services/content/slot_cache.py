"""Serving snapshots per slot, kept in the process and marked stale or dropped when content events say so.

Content events do not drop a snapshot: they mark it stale (a version per slot, bumped by every
invalidation), and the next serve rebuilds it in a background thread while requests keep being
served from the previous version; only a withdrawal (an archived item, an unreadable event) drops
snapshots outright, so that nothing withdrawn is served while the rebuild runs. What a snapshot
holds and how it is built: `slot_snapshot`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from sqlalchemy.engine import Engine

from services.content.slot_snapshot import SlotSnapshot, build_snapshot
from services.runtime.errors import NotFound

logger = logging.getLogger(__name__)


class SlotCache:
    """Snapshots per slot, built by one thread at a time per slot, never rebuilt under a request.

    Every invalidation bumps a counter; a slot's snapshot is current when it was begun after the
    slot's latest invalidation (and is younger than `max_age_s`). A stale snapshot keeps serving
    while one thread rebuilds it (`refresh_in_background`); a slot without any snapshot (never
    served, or withdrawn) is built by its first request, the others waiting for that build.
    A build that overlaps a withdrawal of its slot, one of its items or of everything is not kept.
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
        self._refreshing: set[str] = set()
        self._version = 0
        self._stale_since: dict[str, int] = {}  # slot -> version of its latest invalidation
        self._item_stale_since: dict[str, int] = {}
        self._withdrawn_at: dict[str, int] = {}  # slot -> version of its latest withdrawal
        self._item_withdrawn_at: dict[str, int] = {}
        self._cleared_at = 0
        self._lock = threading.Lock()

    def _current(self, snapshot: SlotSnapshot) -> bool:
        return (
            snapshot.version >= self._stale_since.get(snapshot.slot_key, 0)
            and self._clock() - snapshot.built_at <= self._max_age_s
        )

    def lookup(self, slot_key: str) -> tuple[SlotSnapshot | None, bool]:
        """The cached snapshot (possibly stale) and whether it is current; never touches the database."""
        snapshot = self._snapshots.get(slot_key)
        return snapshot, snapshot is not None and self._current(snapshot)

    def peek(self, slot_key: str) -> SlotSnapshot | None:
        """The cached snapshot if it is current; never touches the database."""
        snapshot, current = self.lookup(slot_key)
        return snapshot if current else None

    def get(self, slot_key: str, *, wait: bool = False) -> SlotSnapshot:
        """The snapshot of a slot: the cached one if current, else built from the database (blocking).

        When another thread is already rebuilding a stale snapshot, the stale one is returned, unless
        `wait`: then the current one, once that build (or one of this thread's own) is done."""
        snapshot, current = self.lookup(slot_key)
        if current:
            return snapshot  # type: ignore[return-value]  # current implies a snapshot
        with self._lock:
            building = self._building[slot_key]
        if not building.acquire(blocking=wait or snapshot is None):
            return snapshot  # type: ignore[return-value]  # not blocking only when there is one
        try:
            latest, current = self.lookup(slot_key)
            if current:
                return latest  # type: ignore[return-value]  # current implies a snapshot
            with self._lock:
                version = self._version
            built = build_snapshot(
                engine=self._engine, slot_key=slot_key, built_at=self._clock(), version=version
            )
            self._install(built)
            return built
        finally:
            building.release()
            if slot_key not in self._snapshots:
                with self._lock:
                    self._building.pop(slot_key, None)

    def _install(self, snapshot: SlotSnapshot) -> None:
        slot_key, version = snapshot.slot_key, snapshot.version
        with self._lock:
            withdrawn = max(
                (self._item_withdrawn_at.get(i, 0) for i in snapshot.item_ids),
                default=0,
            )
            if max(withdrawn, self._withdrawn_at.get(slot_key, 0), self._cleared_at) > version:
                return  # a withdrawal overlapped the build: the next request builds afresh
            changed = max((self._item_stale_since.get(i, 0) for i in snapshot.item_ids), default=0)
            if changed > version:  # an item changed during the build: keep it, but as stale
                self._stale_since[slot_key] = max(self._stale_since.get(slot_key, 0), changed)
            self._snapshots[slot_key] = snapshot
            for item_id in snapshot.item_ids:
                self._slots_by_item[item_id].add(slot_key)

    def refresh_in_background(self, slot_key: str) -> None:
        """Rebuild a stale snapshot in a thread of its own (one at a time per slot); serving goes on."""
        with self._lock:
            if slot_key in self._refreshing:
                return
            self._refreshing.add(slot_key)
        threading.Thread(target=self._refresh, args=(slot_key,), name=f"slot-refresh {slot_key}").start()

    def _refresh(self, slot_key: str) -> None:
        try:
            self.get(slot_key)
        except NotFound:
            with self._lock:  # the slot is gone: nothing of it is served any more
                self._snapshots.pop(slot_key, None)
        except Exception:  # the stale snapshot serves on; the next request tries again
            logger.exception("rebuilding the serving snapshot of %s failed", slot_key)
        finally:
            with self._lock:
                self._refreshing.discard(slot_key)

    def refresh(self, slot_keys: Iterable[str]) -> None:
        """Bring the snapshots of these slots up to date now (a write does before it answers, so that
        this replica serves the change once the write returns)."""
        for slot_key in slot_keys:
            try:
                self.get(slot_key, wait=True)
            except NotFound:
                with self._lock:
                    self._snapshots.pop(slot_key, None)

    def invalidate_slot(self, slot_key: str) -> list[str]:
        """The slot's placements changed: its snapshot is stale (served until rebuilt).

        Returns the slot if a snapshot of it is cached (what `refresh` would rebuild)."""
        with self._lock:
            self._version += 1
            self._stale_since[slot_key] = self._version
            return [slot_key] if slot_key in self._snapshots else []

    def invalidate_item(self, item_id: str, *, withdrawn: bool = False) -> list[str]:
        """An item changed: the snapshots holding it are stale; withdrawn (archived), they are dropped.

        Returns the slots whose snapshots held the item."""
        with self._lock:
            self._version += 1
            self._item_stale_since[item_id] = self._version
            if withdrawn:
                self._item_withdrawn_at[item_id] = self._version
            # a slot stays listed under the item until the item is withdrawn: a later withdrawal
            # must still find the stale snapshots that hold it
            slot_keys = self._slots_by_item.pop(item_id, set()) if withdrawn else self._slots_by_item[item_id]
            for slot_key in slot_keys:
                self._stale_since[slot_key] = self._version
                if withdrawn:
                    self._withdrawn_at[slot_key] = self._version
                    self._snapshots.pop(slot_key, None)
            return sorted(slot_keys)

    def clear(self) -> None:
        """Drop every snapshot (nothing cached is trusted any more)."""
        with self._lock:
            self._version += 1
            self._cleared_at = self._version
            self._snapshots.clear()
            self._slots_by_item.clear()
