"""Benefits' part of the operators' audit search, scoped by the benefit's branch."""

from __future__ import annotations

from sqlalchemy import func, literal
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.benefits.models import Benefit, BenefitAudit
from services.runtime.audit_trail import AuditQuery, AuditRecord, narrowed
from services.runtime.db import read_session


def search_audit(*, engine: Engine, query: AuditQuery) -> list[AuditRecord]:
    """The benefits' audit records matching the query, newest or oldest first."""
    branch = func.coalesce(Benefit.branch, "")
    stmt = select(BenefitAudit, branch).outerjoin(
        Benefit, col(Benefit.benefit_id) == col(BenefitAudit.benefit_id)
    )
    columns = {
        "id": col(BenefitAudit.id),
        "at": col(BenefitAudit.at),
        "operator": col(BenefitAudit.actor_id),
        "action": col(BenefitAudit.action),
        "entity": literal("benefit"),
        "entity_id": col(BenefitAudit.benefit_id),
        "branch": branch,
    }
    with read_session(engine) as session:
        rows = session.exec(narrowed(stmt, query, columns=columns)).all()
    return [
        AuditRecord(
            record_id=entry.id or 0,
            at=entry.at,
            operator_id=entry.actor_id,
            operator_branch=entry.actor_branch,
            action=entry.action,
            entity="benefit",
            entity_id=entry.benefit_id,
            branch=owner or "",
            reason=entry.reason,
            detail=entry.detail,
        )
        for entry, owner in rows
    ]
