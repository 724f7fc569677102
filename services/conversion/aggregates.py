"""Incremental funnel aggregates: counters bumped with each change, summed by reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import bindparam, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, select

from services.conversion.attribution import COUNTERS
from services.conversion.models import Campaign, FunnelDay
from services.runtime.db import read_session
from services.runtime.errors import InvalidInput, NotFound

MAX_REPORT_DAYS = 400


_KEY = ("partner_id", "campaign_id", "day")
_upserts: dict[tuple[str, tuple[str, ...]], Insert] = {}


def _upsert(dialect_name: str, names: tuple[str, ...]) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE adding the named counters of one partner/campaign/day, with bind
    parameters: built once per dialect and set of counters, its compiled form reused (building it per
    call cost a quarter of a stored click)."""
    found = _upserts.get((dialect_name, names))
    if found is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        table = FunnelDay.__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
        stmt = dialect.insert(table).values({name: bindparam(name) for name in (*_KEY, *names)})
        found = _upserts[(dialect_name, names)] = stmt.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={name: table.c[name] + stmt.excluded[name] for name in names},
        )
    return found


def _check(increments: Mapping[str, int]) -> None:
    unknown = set(increments) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")


def bump(session: Session, *, partner_id: str, campaign_id: str, day: str, **increments: int) -> None:
    """Add to the counters of one partner/campaign/day in one atomic upsert (safe under concurrency)."""
    _check(increments)
    names = tuple(sorted(increments))
    stmt = _upsert(session.get_bind().dialect.name, names)
    session.execute(stmt, {"partner_id": partner_id, "campaign_id": campaign_id, "day": day, **increments})


# Additions a transaction makes when it commits (`add_at_commit`), kept in the session's info: each
# with the innermost transaction it was made in, so that a savepoint rolled back takes its own away.
_PENDING = "lattice.conversion.pending_additions"
Flush = Callable[[Session, dict[Any, dict[str, int]]], None]


def add_at_commit(session: Session, flush: Flush, key: Any, increments: Mapping[str, int]) -> None:
    """Add `increments` to what `flush(session, sums)` writes for `key` just before the session's
    transaction commits (summed per key over the transaction); a savepoint rolled back (or the
    transaction) drops what was added within it."""
    within = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((within, flush, key, increments))


def bump_at_commit(
    session: Session, *, partner_id: str, campaign_id: str, day: str, **increments: int
) -> None:
    """`bump`, made once per partner/campaign/day and transaction with the sum of its increments,
    just before the transaction commits: a batch of clicks of one campaign and day is one upsert.
    Nothing read in the same transaction sees the increments before then."""
    _check(increments)
    add_at_commit(session, _flush_counts, (partner_id, campaign_id, day), increments)


def _flush_counts(session: Session, sums: dict[Any, dict[str, int]]) -> None:
    stmt = _upsert(session.get_bind().dialect.name, COUNTERS)
    zeros = dict.fromkeys(COUNTERS, 0)
    session.execute(
        stmt,
        [
            {"partner_id": partner_id, "campaign_id": campaign_id, "day": day, **zeros, **counts}
            for (partner_id, campaign_id, day), counts in sums.items()
        ],
    )


@event.listens_for(Session, "before_commit")
def _add_pending(session: Session) -> None:
    if session.get_nested_transaction() is not None:  # a savepoint's release: the transaction goes on
        return
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    by_flush: dict[Flush, dict[Any, dict[str, int]]] = {}
    for _within, flush, key, increments in pending:
        summed = by_flush.setdefault(flush, {}).setdefault(key, {})
        for name, value in increments.items():
            summed[name] = summed.get(name, 0) + value
    for flush, sums in by_flush.items():
        flush(session, sums)


def _inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [entry for entry in pending if not _inside(entry[0], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed (already written), rolled back or closed: none left
        session.info.pop(_PENDING, None)


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
