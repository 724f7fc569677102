"""A live benefit's lifecycle: pause, resume and stop at once (audited); top-ups and extensions reviewed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from services.benefits import ledger
from services.benefits.audit import record, visible_benefit
from services.benefits.catalogue import MAX_AMOUNT
from services.benefits.models import Benefit, BenefitChange, Grant
from services.benefits.principals import Principal, require_operator
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.paging import count_rows, read_page
from services.runtime.sorting import Sortable

LIVE = ("approved", "paused")
STATE_MOVES = {"pause": ("approved", "paused"), "resume": ("paused", "approved"), "stop": (LIVE, "stopped")}


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("reason_required", "say why (1-500 characters)")
    return reason


def change_state(
    *, engine: Engine, benefit_id: str, action: str, reason: str, by: Principal
) -> tuple[Benefit, int]:
    """Pause, resume or stop a benefit; stopping is final and returns the unspent budget to the funder."""
    if action not in STATE_MOVES:
        raise InvalidInput("invalid_action", "action is pause, resume or stop")
    reason = _reason(reason)
    allowed, target = STATE_MOVES[action]
    with transaction(engine) as session:
        benefit = visible_benefit(session, benefit_id, by, lock=True)
        if benefit.status not in allowed:
            raise Conflict(f"cannot_{action}", f"benefit {benefit_id} is {benefit.status}")
        benefit.status = target
        session.add(benefit)
        left = ledger.balance_of(session, ledger.budget_account(benefit_id))
        if action == "stop" and left:
            ledger.post_entry(
                session,
                kind="stop",
                reference=benefit_id,
                lines=[
                    (ledger.budget_account(benefit_id), -left),
                    (ledger.funder_account(benefit.funder), left),
                ],
            )
        record(
            session,
            benefit_id=benefit_id,
            action=target if action != "resume" else "resumed",
            by=by,
            reason=reason,
        )
        return benefit, ledger.balance_of(session, ledger.budget_account(benefit_id))


def request_change(
    *,
    engine: Engine,
    benefit_id: str,
    kind: str,
    by: Principal,
    reason: str,
    total_budget_increase: int = 0,
    daily_budget: int = 0,
    valid_until: datetime | None = None,
) -> BenefitChange:
    """Ask for a top-up or an extension; it takes effect only when another reviewer approves it."""
    reason = _reason(reason)
    with transaction(engine) as session:
        benefit = visible_benefit(session, benefit_id, by, lock=True)
        if benefit.status not in LIVE:
            raise Conflict("not_live", f"benefit {benefit_id} is {benefit.status}")
        if kind == "top_up":
            _check_top_up(benefit, total_budget_increase, daily_budget)
            detail = f"total +{total_budget_increase}, daily {daily_budget or benefit.daily_budget}"
        elif kind == "extend":
            _check_extension(benefit, valid_until)
            detail = f"valid_until {valid_until.isoformat() if valid_until else ''}"
        else:
            raise InvalidInput("invalid_change", "a change is a top_up or an extend")
        change = BenefitChange(
            change_id=uuid.uuid4().hex,
            benefit_id=benefit_id,
            kind=kind,
            total_budget_increase=total_budget_increase if kind == "top_up" else 0,
            daily_budget=daily_budget if kind == "top_up" else 0,
            valid_until=valid_until if kind == "extend" else None,
            reason=reason,
            requested_by=by.actor_id,
        )
        session.add(change)
        record(
            session, benefit_id=benefit_id, action=f"{kind}_requested", by=by, reason=reason, detail=detail
        )
        return change


def _check_top_up(benefit: Benefit, increase: int, daily_budget: int) -> None:
    if (
        not 0 <= increase <= MAX_AMOUNT
        or not 0 <= daily_budget <= MAX_AMOUNT
        or not (increase or daily_budget)
    ):
        raise InvalidInput("invalid_top_up", "raise the total budget and/or set a new daily budget")
    if daily_budget and daily_budget > benefit.total_budget + increase:
        raise InvalidInput("invalid_top_up", "the daily budget stays within the total budget")
    if benefit.total_budget + increase > MAX_AMOUNT:
        raise InvalidInput("invalid_top_up", "the total budget would exceed the maximum")


def _check_extension(benefit: Benefit, valid_until: datetime | None) -> None:
    if benefit.valid_until is None:
        raise Conflict("no_end_date", "the benefit has no end date to extend")
    if valid_until is None or valid_until <= benefit.valid_until:
        raise InvalidInput("invalid_extension", "the new end date must be later than the current one")
    if valid_until - benefit.valid_until > timedelta(days=3650):
        raise InvalidInput("invalid_extension", "at most ten years further")


def review_change(
    *, engine: Engine, benefit_id: str, change_id: str, approve: bool, note: str, by: Principal
) -> tuple[BenefitChange, Benefit, int]:
    """Approve (apply) or reject a change; never by its requester or by the benefit's drafter."""
    with transaction(engine) as session:
        benefit = visible_benefit(session, benefit_id, by, lock=True)
        change = ledger.locked(session, BenefitChange, change_id)
        if change is None or change.benefit_id != benefit_id:
            raise NotFound("change_not_found", f"no change {change_id}")
        if change.status != "pending":
            raise Conflict("not_pending", f"the change is {change.status}")
        if by.actor_id in (change.requested_by, benefit.drafted_by):
            raise Forbidden(
                "self_approval", "a change is reviewed by someone who neither requested nor drafted it"
            )
        if approve and benefit.status not in LIVE:
            raise Conflict("not_live", f"benefit {benefit_id} is {benefit.status}")
        change.status = "approved" if approve else "rejected"
        change.reviewed_by, change.review_note, change.reviewed_at = by.actor_id, note[:500], utcnow()
        session.add(change)
        if approve and change.kind == "top_up":
            _apply_top_up(session, benefit, change)
        elif approve:
            _apply_extension(session, benefit, change)
        record(session, benefit_id=benefit_id, action=f"{change.kind}_{change.status}", by=by, reason=note)
        return change, benefit, ledger.balance_of(session, ledger.budget_account(benefit_id))


def _apply_top_up(session: Session, benefit: Benefit, change: BenefitChange) -> None:
    if change.total_budget_increase:
        ledger.post_entry(
            session,
            kind="top_up",
            reference=change.change_id,
            lines=[
                (ledger.funder_account(benefit.funder), -change.total_budget_increase),
                (ledger.budget_account(benefit.benefit_id), change.total_budget_increase),
            ],
        )
        benefit.total_budget += change.total_budget_increase
    benefit.daily_budget = change.daily_budget or benefit.daily_budget
    session.add(benefit)


def _apply_extension(session: Session, benefit: Benefit, change: BenefitChange) -> None:
    """Lots that ended with the old end date live on to the new one, within their own validity days."""
    old, new = benefit.valid_until, change.valid_until
    assert old is not None and new is not None
    lots = session.exec(
        select(Grant).where(
            Grant.benefit_id == benefit.benefit_id,
            col(Grant.status).in_(("active", "held")),
            Grant.expires_at == old,
        )
    )
    for grant in lots:
        cap = grant.granted_at + timedelta(days=benefit.valid_days) if benefit.valid_days else new
        grant.expires_at = min(new, cap)
        session.add(grant)
    benefit.valid_until = new
    session.add(benefit)


CHANGE_ORDER = Sortable.of(BenefitChange, "change_id", "requested_at")


def list_changes(
    *,
    engine: Engine,
    benefit_id: str,
    status: str,
    by: Principal,
    size: int,
    token: str,
    sort: str = "",
    start: tuple[datetime, str] | None = None,
) -> tuple[list[BenefitChange], str]:
    """A page of a benefit's requested changes (no benefit: all in the operator's scope), oldest first,
    or by `sort` (CHANGE_ORDER) after the token or the `start` position."""
    with read_session(engine) as session:
        stmt = _changes(session, benefit_id, status, by)
        if sort or start:
            rows = list(
                session.exec(CHANGE_ORDER.apply(stmt, sort=sort, token=token, start=start).limit(size + 1))
            )
            return rows[:size], CHANGE_ORDER.next_token(rows, size, sort=sort)
        order = [(col(BenefitChange.requested_at), False), (col(BenefitChange.change_id), False)]
        return read_page(session, stmt, order, token=token, size=size)


def count_changes(*, engine: Engine, benefit_id: str, status: str, by: Principal) -> int:
    """How many changes `list_changes` holds with these filters: one COUNT of the same rows."""
    with read_session(engine) as session:
        return count_rows(session, _changes(session, benefit_id, status, by))


def _changes(session: Session, benefit_id: str, status: str, by: Principal) -> SelectOfScalar[BenefitChange]:
    if benefit_id:
        visible_benefit(session, benefit_id, by)
        stmt = select(BenefitChange).where(BenefitChange.benefit_id == benefit_id)
    else:
        require_operator(by)
        stmt = select(BenefitChange).join(Benefit, col(Benefit.benefit_id) == col(BenefitChange.benefit_id))
        if not by.head_office:
            stmt = stmt.where(Benefit.branch == by.scope_id)
    if status:
        stmt = stmt.where(BenefitChange.status == status)
    return stmt
