"""Reports from the journal: one account's balance as of a point in time, within the reader's branch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.benefits.models import Benefit, Grant, LedgerAccount, LedgerPosting, Redemption
from services.benefits.principals import Principal, require_operator
from services.runtime.clock import utcnow
from services.runtime.db import read_session
from services.runtime.errors import Forbidden, NotFound


def require_head_office(by: Principal) -> None:
    require_operator(by)
    if not by.head_office:
        raise Forbidden("head_office_only", "the ledger as a whole is for head office")


def _benefit_of(session: Session, account_id: str) -> str | None:
    """The benefit an account belongs to (None: a funder's account, shared across benefits)."""
    kind, _, ref = account_id.partition(":")
    if kind in ("budget", "redeemed", "expired"):
        return ref
    if kind == "grant":
        grant = session.get(Grant, ref)
        return grant.benefit_id if grant else ""
    if kind == "hold":
        redemption = session.get(Redemption, ref)
        return redemption.benefit_id if redemption else ""
    return None


def _visible(session: Session, account_id: str, by: Principal) -> bool:
    if by.head_office:
        return True
    benefit_id = _benefit_of(session, account_id)
    benefit = session.get(Benefit, benefit_id) if benefit_id else None
    return benefit is not None and by.sees_branch(benefit.branch)


def account_balance(
    *, engine: Engine, account_id: str, as_of: datetime | None, by: Principal
) -> tuple[int, datetime]:
    """The account's balance summed from its postings up to `as_of` (now when unset)."""
    require_operator(by)
    as_of = as_of or utcnow()
    with read_session(engine) as session:
        if session.get(LedgerAccount, account_id) is None or not _visible(session, account_id, by):
            raise NotFound("account_not_found", f"no account {account_id}")
        total = session.exec(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
                LedgerPosting.account_id == account_id, col(LedgerPosting.created_at) <= as_of
            )
        ).one()
    return int(total), as_of
