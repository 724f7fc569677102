"""North-star metrics: the funnel's aggregates summed by day, app, partner, campaign or branch.

They read the same `funnel_day` counters as the funnel report (by click day), so the dashboard and
the funnel always agree. A campaign's app is its target app; its branch "" is head office.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion.aggregates import MAX_REPORT_DAYS
from services.conversion.attribution import COUNTERS
from services.conversion.models import Campaign, FunnelDay
from services.runtime.db import read_session
from services.runtime.errors import Forbidden, InvalidInput

GROUPS = ("day", "app", "partner", "campaign", "branch")
HEAD_OFFICE = "head_office"
_APP = func.coalesce(Campaign.target_app_id, "")
_BRANCH = func.coalesce(Campaign.branch, "")
_SUMS = [func.sum(getattr(FunnelDay, name)) for name in COUNTERS]


@dataclass(frozen=True)
class Scope:
    """What a series is about: "" = any; branch HEAD_OFFICE = head office's own campaigns."""

    app_id: str = ""
    partner_id: str = ""
    campaign_id: str = ""
    branch: str = ""


def period(from_day: str, to_day: str) -> tuple[date, date]:
    """The two days of a period, checked: forward and at most MAX_REPORT_DAYS long."""
    try:
        start, end = date.fromisoformat(from_day), date.fromisoformat(to_day)
    except ValueError as exc:
        raise InvalidInput("invalid_period", "from and to must be dates YYYY-MM-DD") from exc
    if end < start or (end - start).days > MAX_REPORT_DAYS:
        raise InvalidInput(
            "invalid_period", f"the period must run forward and span at most {MAX_REPORT_DAYS} days"
        )
    return start, end


def _reached(actor_branch: str, scope: Scope) -> str | None:
    """The branch the rows are limited to (None: every branch); a branch actor only ever its own."""
    wanted = "" if scope.branch == HEAD_OFFICE else scope.branch or None
    if not actor_branch:
        return wanted
    if wanted is not None and wanted != actor_branch:
        raise Forbidden("branch_scope", "a branch operator reads only its own branch's metrics")
    return actor_branch


def _statement(columns: list[Any], *, start: date, end: date, scope: Scope, branch: str | None) -> Any:
    """SELECT `columns` over the funnel's days of the period, within the scope and branch."""
    stmt = (
        select(*columns)
        .select_from(FunnelDay)
        .outerjoin(Campaign, col(Campaign.campaign_id) == col(FunnelDay.campaign_id))
        .where(col(FunnelDay.day) >= start.isoformat(), col(FunnelDay.day) <= end.isoformat())
    )
    if branch is not None:
        stmt = stmt.where(_BRANCH == branch)
    if scope.app_id:
        stmt = stmt.where(_APP == scope.app_id)
    if scope.partner_id:
        stmt = stmt.where(col(FunnelDay.partner_id) == scope.partner_id)
    if scope.campaign_id:
        stmt = stmt.where(col(FunnelDay.campaign_id) == scope.campaign_id)
    return stmt


def _counts(values: Any) -> dict[str, int]:
    return {name: int(v or 0) for name, v in zip(COUNTERS, values, strict=True)}


def series(
    *, engine: Engine, group_by: str, from_day: str, to_day: str, scope: Scope, actor_branch: str
) -> tuple[list[tuple[str, dict[str, int]]], dict[str, int]]:
    """Counters per group (ordered by key; every day of the period when by day) and their totals."""
    if group_by not in GROUPS:
        raise InvalidInput("invalid_group_by", f"group_by must be one of {', '.join(GROUPS)}")
    start, end = period(from_day, to_day)
    branch = _reached(actor_branch, scope)
    key = {
        "day": col(FunnelDay.day),
        "app": _APP,
        "partner": col(FunnelDay.partner_id),
        "campaign": col(FunnelDay.campaign_id),
        "branch": _BRANCH,
    }[group_by]
    stmt = _statement([key, *_SUMS], start=start, end=end, scope=scope, branch=branch)
    with read_session(engine) as session:
        rows = session.exec(stmt.group_by(key).order_by(key)).all()
    groups = {row[0]: _counts(row[1:]) for row in rows}
    if group_by == "day":
        days = ((start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1))
        groups = {day: groups.get(day, dict.fromkeys(COUNTERS, 0)) for day in days}
    totals = {name: sum(g[name] for g in groups.values()) for name in COUNTERS}
    return sorted(groups.items()), totals


def totals(session: Session, *, from_day: str, to_day: str, scope: Scope, branch: str) -> dict[str, int]:
    """The counters summed over a period within a scope and one branch ("" = every branch)."""
    start, end = period(from_day, to_day)
    stmt = _statement(_SUMS, start=start, end=end, scope=scope, branch=branch or None)
    return _counts(session.exec(stmt).one())
