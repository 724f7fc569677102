"""Benefits' business metrics: budget left per benefit, redemptions and their amounts by status."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.benefits import ledger
from services.benefits.models import Benefit, Redemption
from services.runtime.business_metrics import Measure, Rows

LIVE = ("approved", "paused")


def budget_remaining(session: Session) -> Rows:
    benefits = session.exec(select(Benefit).where(col(Benefit.status).in_(LIVE))).all()
    left = ledger.balances_of(session, [ledger.budget_account(b.benefit_id) for b in benefits])
    for b in benefits:
        attributes = {"benefit_id": b.benefit_id, "branch": b.branch or "head_office", "status": b.status}
        yield left.get(ledger.budget_account(b.benefit_id), 0), attributes


def redemptions(session: Session) -> Rows:
    rows = session.exec(select(Redemption.status, func.count()).group_by(col(Redemption.status))).all()
    for status, count in rows:
        yield count, {"status": status}


def redeemed_amount(session: Session) -> Rows:
    query = select(Redemption.status, func.sum(Redemption.amount - Redemption.refunded))
    for status, amount in session.exec(query.group_by(col(Redemption.status))).all():
        yield int(amount or 0), {"status": status}


MEASURES = [
    Measure(
        "lattice.benefits.budget.remaining", "Budget left per live benefit, minor units", budget_remaining
    ),
    Measure("lattice.benefits.redemptions", "Redemptions by status", redemptions),
    Measure("lattice.benefits.redeemed.amount", "Amount redeemed less refunds, minor units", redeemed_amount),
]
