"""The audit trail of each benefit: who drafted, reviewed, paused, resumed, stopped or changed it."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.benefits.models import Benefit, BenefitAudit
from services.benefits.principals import Principal, require_operator
from services.runtime.db import read_session
from services.runtime.errors import NotFound
from services.runtime.paging import read_page


def record(
    session: Session, *, benefit_id: str, action: str, by: Principal, reason: str = "", detail: str = ""
) -> None:
    """Append one audit record in the caller's transaction."""
    session.add(
        BenefitAudit(
            benefit_id=benefit_id,
            action=action,
            actor_id=by.actor_id,
            actor_branch=by.scope_id,
            reason=reason[:500],
            detail=detail[:500],
        )
    )


def visible_benefit(session: Session, benefit_id: str, by: Principal, *, lock: bool = False) -> Benefit:
    """The benefit if this operator's branch may see it; any other benefit does not exist for them."""
    require_operator(by)
    benefit = session.get(Benefit, benefit_id, with_for_update=lock, populate_existing=lock)
    if benefit is None or not by.sees_branch(benefit.branch):
        raise NotFound("benefit_not_found", f"no benefit {benefit_id}")
    return benefit


def benefit_audit(
    *, engine: Engine, benefit_id: str, by: Principal, size: int, token: str
) -> tuple[list[BenefitAudit], str]:
    """A page of a benefit's audit records, oldest first, and the next page's token."""
    with read_session(engine) as session:
        visible_benefit(session, benefit_id, by)
        stmt = select(BenefitAudit).where(BenefitAudit.benefit_id == benefit_id)
        return read_page(session, stmt, [(col(BenefitAudit.id), False)], token=token, size=size)
