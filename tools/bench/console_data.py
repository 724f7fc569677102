"""Bench-only data for the console scenarios: 10^6 clicks behind the north-star dashboard and funnel
pages, and 10^4 campaign drafts waiting in the approvals inbox.

Campaigns (the objects branch scope and four eyes apply to) are written through conversion's own
domain functions, so they are exactly what the API would have stored. The clicks take a fast path
that exists only here: touchpoints and their per-day funnel counters are bulk-inserted into
conversion's SQLite file in the shape the click consumer and attribution would have written them
(going through `record_click` one by one would take the bench longer than the measurement).
Never run against a bank's database.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.conversion.campaign_review import review_campaign
from services.conversion.campaigns import Staff, create_campaign
from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign
from services.runtime.db import make_engine

PARTNER = "ride"  # a demo partner: conversion already has its profile once the demo data is loaded
BRANCHES = ("", "shanghai", "beijing")  # head office, then the demo branches
AUTHORS = {"": "hq-operator", "shanghai": "sh-operator", "beijing": "bj-operator"}
REVIEWER = Staff(operator_id="hq-reviewer", role="reviewer", branch="")
# of the clicks that land, the share reaching each next stage (a bank's funnel, roughly)
STAGES = (("linked", 0.5), ("acquired", 0.6), ("activated", 0.5), ("upgraded", 0.2))
LANDED = 0.4
BATCH = 50_000


@dataclass
class Seeded:
    """What a loader wrote, so a scenario can ask for it and a check can compare."""

    campaigns: list[str]
    from_day: str
    to_day: str
    totals: dict[str, int] = field(default_factory=dict)


def _engine(var_dir: Path):
    return make_engine(f"sqlite:///{(var_dir / 'conversion.db').resolve()}", busy_timeout_s=30)


def _campaign(*, campaign_id: str, branch: str, name: str) -> Campaign:
    return Campaign(
        campaign_id=campaign_id,
        partner_id=PARTNER,
        name=name,
        branch=branch,
        target_app_id="life",
        landing_url="https://life.bank.example/welcome",
        lookback_days=0,
        conversion_window_days=0,
    )


def draft_campaigns(*, var_dir: Path, count: int, prefix: str, approve: bool) -> list[str]:
    """`count` campaigns drafted by the branches' operators in turn; approved by hq-reviewer if asked."""
    engine, settings = _engine(var_dir), ConversionSettings()
    ids = []
    try:
        for i in range(count):
            branch = BRANCHES[i % len(BRANCHES)]
            author = Staff(operator_id=AUTHORS[branch], role="operator", branch=branch)
            draft = _campaign(
                campaign_id=f"{prefix}-{i:05d}", branch=branch, name=f"Bench {branch or 'hq'} {i}"
            )
            created = create_campaign(engine=engine, campaign=draft, actor=author, settings=settings)
            if approve:
                review_campaign(
                    engine=engine,
                    campaign_id=created.campaign_id,
                    version=created.pending_version,
                    actor=REVIEWER,
                    approve=True,
                    note="bench",
                    settings=settings,
                )
            ids.append(created.campaign_id)
    finally:
        engine.dispose()
    return ids


def _sqlite_time(at: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (naive, space-separated)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _touchpoints(
    rng: random.Random, *, clicks: int, campaigns: list[str], start: datetime, days: int, counts: dict
) -> Iterator[tuple]:
    for i in range(clicks):
        at = start + timedelta(seconds=rng.randrange(days * 86400))
        campaign, day = campaigns[i % len(campaigns)], at.date().isoformat()
        landed = rng.random() < LANDED
        row = counts.setdefault((campaign, day), dict.fromkeys(("clicks", "landings"), 0))
        row["clicks"] += 1
        row["landings"] += landed
        when = _sqlite_time(at)
        yield (uuid.UUID(int=rng.getrandbits(128)).hex, campaign, when, day, when if landed else None)


def _funnel_rows(rng: random.Random, counts: dict) -> Iterator[tuple]:
    for (campaign, day), row in counts.items():
        reached = row["landings"]
        for stage, share in STAGES:
            reached = sum(rng.random() < share for _ in range(reached))
            row[stage] = reached
        yield (
            PARTNER, campaign, day, row["clicks"], row["landings"], row["linked"],
            row["acquired"], row["activated"], row["upgraded"],
        )  # fmt: skip


def seed_clicks(*, var_dir: Path, clicks: int = 10**6, campaigns: int = 30, days: int = 90) -> Seeded:
    """Approved campaigns across head office and branches, then `clicks` clicks and their funnel."""
    ids = draft_campaigns(
        var_dir=var_dir, count=campaigns, prefix=f"nsb-{uuid.uuid4().hex[:6]}", approve=True
    )
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    rng, counts = random.Random(clicks), dict[Any, Any]()
    touches = _touchpoints(rng, clicks=clicks, campaigns=ids, start=start, days=days, counts=counts)
    with sqlite3.connect(var_dir / "conversion.db", timeout=60) as db:
        while batch := [row for _, row in zip(range(BATCH), touches, strict=False)]:
            db.executemany(
                "INSERT INTO touchpoint (click_id, link_id, partner_id, campaign_id, scene, interaction,"
                " device_id, ip_class, attributable, rejection, occurred_at, day, customer_id, landed_at)"
                f" VALUES (?, 'bench', '{PARTNER}', ?, 'bench', 'click', '', '', 1, '', ?, ?, NULL, ?)",
                batch,
            )
        db.executemany(
            "INSERT INTO funnel_day (partner_id, campaign_id, day, clicks, views, rejected, flooded,"
            " landings, linked, acquired, re_engaged, activated, upgraded)"
            " VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?, ?, 0, ?, ?)"
            " ON CONFLICT (partner_id, campaign_id, day) DO UPDATE SET clicks = clicks + excluded.clicks,"
            " landings = landings + excluded.landings, linked = linked + excluded.linked,"
            " acquired = acquired + excluded.acquired, activated = activated + excluded.activated,"
            " upgraded = upgraded + excluded.upgraded",
            _funnel_rows(rng, counts),
        )
    with sqlite3.connect(var_dir / "conversion.db", timeout=60) as db:
        # fold the bulk load's write-ahead log into the database now, so that the scenario measured
        # first afterwards does not pay for checkpointing 10^6 rows while it is measured
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    totals = {k: sum(r[k] for r in counts.values()) for k in ("clicks", "landings", *dict(STAGES))}
    end = start + timedelta(days=days)
    return Seeded(ids, start.date().isoformat(), end.date().isoformat(), totals)


def seed_pending_reviews(*, var_dir: Path, items: int = 10**4) -> Seeded:
    """`items` campaign drafts waiting for review, a third from each of head office and two branches."""
    ids = draft_campaigns(var_dir=var_dir, count=items, prefix=f"rvb-{uuid.uuid4().hex[:6]}", approve=False)
    today = datetime.now(UTC).date().isoformat()
    by_branch = {b or "head_office": sum(1 for i in range(items) if BRANCHES[i % 3] == b) for b in BRANCHES}
    return Seeded(ids, today, today, by_branch)
