"""Serving a slot: highest eligible priority, weighted choice among equals, frequency caps held."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.content.models import ServeCount
from services.content.rendering import PublishedItem, Rendered, locale_chain
from services.content.slot_cache import SlotCache
from services.content.slot_snapshot import SHANGHAI, Candidate, SlotSnapshot
from services.runtime.db import read_session, transaction
from services.runtime.retention import Rule


@dataclass(frozen=True)
class Viewer:
    """The signed-in customer's attributes that targeting looks at."""

    customer_id: str
    edition: str = "standard"
    assurance_level: int = 1
    aum_tier: str = ""
    branch: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Served:
    placement_id: str
    item: Rendered


@dataclass(frozen=True)
class Choice:
    """The placement chosen for a viewer, and the item and variant edition it shows them."""

    placement_id: str
    item: PublishedItem
    edition: str


def local_day(now: datetime) -> str:
    """The calendar day in Asia/Shanghai that frequency caps count in."""
    return now.astimezone(SHANGHAI).date().isoformat()


# Frequency caps count per local day: counts older than yesterday are never read again.
SERVE_COUNT_RETENTION = Rule(
    "serve_count",
    ServeCount,
    (ServeCount.customer_id, ServeCount.day, ServeCount.placement_id),
    lambda now: col(ServeCount.day) < local_day(now - timedelta(days=1)),
)


def serve_counts(*, engine: Engine, customer_id: str, day: str, slot_key: str) -> dict[str, int]:
    with read_session(engine) as session:
        stmt = select(ServeCount).where(
            ServeCount.customer_id == customer_id, ServeCount.day == day, ServeCount.slot_key == slot_key
        )
        return {row.placement_id: row.count for row in session.exec(stmt)}


def claim_serve(
    *, engine: Engine, customer_id: str, day: str, slot_key: str, placement_id: str, cap: int
) -> bool:
    """Count one serve if the customer is still below the cap; atomic under concurrent serves."""
    table = ServeCount.__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(
        customer_id=customer_id, day=day, placement_id=placement_id, slot_key=slot_key, count=1
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.customer_id, table.c.day, table.c.placement_id],
        set_={"count": table.c.count + 1},
        where=table.c.count < cap,
    ).returning(table.c.count)
    with transaction(engine) as session:
        return session.connection().execute(stmt).first() is not None


def needs_database(snapshot: SlotSnapshot, viewer: Viewer) -> bool:
    """False when serving this viewer is a pure in-memory choice (no caps to count)."""
    return snapshot.counts_caps(edition=viewer.edition, branch=viewer.branch)


def serve_from(
    snapshot: SlotSnapshot,
    *,
    engine: Engine,
    viewer: Viewer,
    locales: list[str],
    now: datetime,
    rng: random.Random,
) -> Served | None:
    """Pick and render the item for `viewer` at `now`; None when nothing in the slot is eligible."""
    choice = choose_from(snapshot, engine=engine, viewer=viewer, now=now, rng=rng)
    if choice is None:
        return None
    return Served(
        choice.placement_id, choice.item.render(edition=choice.edition, chain=locale_chain(locales))
    )


def choose_from(
    snapshot: SlotSnapshot, *, engine: Engine, viewer: Viewer, now: datetime, rng: random.Random
) -> Choice | None:
    """Pick the placement for `viewer` at `now` (counting a capped serve); None when nothing is eligible."""
    counts: dict[str, int] | None = None
    for tier in snapshot.tiers_for(edition=viewer.edition, branch=viewer.branch):
        eligible = [
            c
            for c in tier
            if c.in_schedule(now)
            and c.matches(
                assurance_level=viewer.assurance_level,
                aum_tier=viewer.aum_tier,
                branch=viewer.branch,
                tags=viewer.tags,
            )
        ]
        while eligible:
            if counts is None and any(c.cap_per_day for c in eligible):
                counts = serve_counts(
                    engine=engine,
                    customer_id=viewer.customer_id,
                    day=local_day(now),
                    slot_key=snapshot.slot_key,
                )
            if counts is not None:
                eligible = [
                    c for c in eligible if not c.cap_per_day or counts.get(c.placement_id, 0) < c.cap_per_day
                ]
                if not eligible:
                    break
            chosen = _choose(eligible, rng)
            if chosen.cap_per_day and not claim_serve(
                engine=engine,
                customer_id=viewer.customer_id,
                day=local_day(now),
                slot_key=snapshot.slot_key,
                placement_id=chosen.placement_id,
                cap=chosen.cap_per_day,
            ):
                counts[chosen.placement_id] = chosen.cap_per_day  # type: ignore[index]  # counts is keyed by placement id, filled just above
                continue
            content = chosen.content_for(viewer.edition)
            if content is None:  # the snapshot only keeps servable candidates; kept for safety
                eligible.remove(chosen)
                continue
            item, edition = content
            return Choice(chosen.placement_id, item, edition)
    return None


def _choose(eligible: list[Candidate], rng: random.Random) -> Candidate:
    if len(eligible) == 1:
        return eligible[0]
    return rng.choices(eligible, weights=[c.weight for c in eligible])[0]


def serve_slot(
    *,
    engine: Engine,
    cache: SlotCache,
    slot_key: str,
    viewer: Viewer,
    locales: list[str],
    now: datetime,
    rng: random.Random,
) -> Served | None:
    """Serve a slot, building its snapshot first if the cache lacks it."""
    snapshot = cache.get(slot_key)
    return serve_from(snapshot, engine=engine, viewer=viewer, locales=locales, now=now, rng=rng)
