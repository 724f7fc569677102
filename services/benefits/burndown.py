"""A benefit's budget day by day (Asia/Shanghai), read from the postings of its budget account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.benefits import ledger
from services.benefits.audit import visible_benefit
from services.benefits.models import Benefit, LedgerPosting
from services.benefits.principals import Principal
from services.runtime.clock import utcnow
from services.runtime.db import read_session
from services.runtime.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 366


@dataclass(frozen=True)
class BurndownDay:
    day: date
    added: int
    spent: int
    remaining: int


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad(name)
    except ValueError:
        return _bad(name)


def _bad(name: str) -> date:
    raise InvalidInput("invalid_range", f"{name} must be a day YYYY-MM-DD")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI).astimezone(UTC)


def budget_burndown(
    *, engine: Engine, benefit_id: str, by: Principal, from_day: str, to_day: str, now: datetime | None = None
) -> tuple[Benefit, list[BurndownDay]]:
    """Added, spent and remaining per local day from `from_day` to `to_day` (both included)."""
    first, last = _day(from_day, "from"), _day(to_day, "to")
    account = ledger.budget_account(benefit_id)
    with read_session(engine) as session:
        benefit = visible_benefit(session, benefit_id, by)
        if first is None:
            earliest = session.exec(
                select(func.min(LedgerPosting.created_at)).where(LedgerPosting.account_id == account)
            ).one()
            first = (earliest or benefit.created_at or utcnow()).astimezone(SHANGHAI).date()
        last = last or (now or utcnow()).astimezone(SHANGHAI).date()
        if last < first:
            raise InvalidInput("invalid_range", "to is before from")
        if (last - first).days >= MAX_DAYS:
            raise InvalidInput("invalid_range", f"at most {MAX_DAYS} days at once")
        start, end = _start_of(first), _start_of(last + timedelta(days=1))
        opening = session.exec(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
                LedgerPosting.account_id == account, col(LedgerPosting.created_at) < start
            )
        ).one()
        rows = session.exec(
            select(LedgerPosting.created_at, LedgerPosting.amount).where(
                LedgerPosting.account_id == account,
                col(LedgerPosting.created_at) >= start,
                col(LedgerPosting.created_at) < end,
            )
        ).all()
    added: dict[date, int] = {}
    spent: dict[date, int] = {}
    for at, amount in rows:
        day = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(SHANGHAI).date()
        bucket = added if amount > 0 else spent
        bucket[day] = bucket.get(day, 0) + abs(amount)
    days, remaining = [], int(opening)
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        remaining += added.get(day, 0) - spent.get(day, 0)
        days.append(BurndownDay(day, added.get(day, 0), spent.get(day, 0), remaining))
    return benefit, days
