"""Incremental funnel aggregates: counters bumped with each change, summed by reports."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion.attribution import COUNTERS
from services.conversion.models import Campaign, FunnelDay
from services.runtime.db import read_session
from services.runtime.errors import InvalidInput, NotFound

MAX_REPORT_DAYS = 400


def bump(session: Session, *, partner_id: str, campaign_id: str, day: str, **increments: int) -> None:
    """Add to the counters of one partner/campaign/day in one atomic upsert (safe under concurrency)."""
    unknown = set(increments) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = FunnelDay.__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
    stmt = dialect.insert(table).values(partner_id=partner_id, campaign_id=campaign_id, day=day, **increments)
    stmt = stmt.on_conflict_do_update(
        index_elements=["partner_id", "campaign_id", "day"],
        set_={name: table.c[name] + stmt.excluded[name] for name in increments},
    )
    session.execute(stmt)


def _parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"invalid_{what}", f"{what} must be a date YYYY-MM-DD") from exc


class FunnelDayCounts(NamedTuple):
    """One partner/campaign/day of a report: the counters in COUNTERS order."""

    day: str
    campaign_id: str
    counts: tuple[int, ...]


_REPORT_COLUMNS = (
    col(FunnelDay.day),
    col(FunnelDay.campaign_id),
    *(col(getattr(FunnelDay, name)) for name in COUNTERS),
)


def funnel_report(
    *, engine: Engine, partner_id: str, campaign_id: str, branch: str, from_day: str, to_day: str
) -> tuple[list[FunnelDayCounts], dict[str, int], int, str]:
    """Rows per day, totals and commission due for one partner (one campaign, one branch's campaigns).

    A campaign of another partner (or, with `branch`, of another branch) is not found. The rows are
    read as plain tuples: a report spans up to days x campaigns rows, and building an ORM object
    per row cost more than the query.
    """
    start, end = _parse_day(from_day, "from_day"), _parse_day(to_day, "to_day")
    if end < start or (end - start).days > MAX_REPORT_DAYS:
        raise InvalidInput(
            "invalid_period", f"the period must run forward and span at most {MAX_REPORT_DAYS} days"
        )
    with read_session(engine) as session:
        if campaign_id:
            campaign = session.get(Campaign, campaign_id)
            if (
                campaign is None
                or campaign.partner_id != partner_id
                or (branch and campaign.branch != branch)
            ):
                raise NotFound("campaign_not_found", f"no campaign {campaign_id}")
        stmt = select(*_REPORT_COLUMNS).where(
            col(FunnelDay.partner_id) == partner_id,
            col(FunnelDay.day) >= start.isoformat(),
            col(FunnelDay.day) <= end.isoformat(),
        )
        if campaign_id:
            stmt = stmt.where(col(FunnelDay.campaign_id) == campaign_id)
        if branch:
            own = select(Campaign.campaign_id).where(col(Campaign.branch) == branch)
            stmt = stmt.where(col(FunnelDay.campaign_id).in_(own))
        result = session.exec(stmt.order_by(col(FunnelDay.day), col(FunnelDay.campaign_id)))
        rows = [FunnelDayCounts(day, campaign, tuple(counts)) for day, campaign, *counts in result]
        # only the campaigns of the rows (a partner may have thousands; a report names a few)
        named = {row.campaign_id for row in rows}
        campaigns = (
            {
                c.campaign_id: c
                for c in session.exec(select(Campaign).where(col(Campaign.campaign_id).in_(named)))
            }
            if named
            else {}
        )
    sums = [sum(column) for column in zip(*(row.counts for row in rows), strict=True)]
    totals = dict(zip(COUNTERS, sums, strict=True)) if rows else dict.fromkeys(COUNTERS, 0)
    at = {name: i for i, name in enumerate(COUNTERS)}
    commission, currency = 0, ""
    for row in rows:
        campaign = campaigns.get(row.campaign_id)
        if campaign is not None and campaign.cpa_amount_minor:
            milestone = at.get(campaign.commission_milestone)
            commission += campaign.cpa_amount_minor * (row.counts[milestone] if milestone is not None else 0)
            currency = currency or campaign.currency
    return rows, totals, commission, currency
