"""Identity's audit trail: every registry change by operations staff (an app or partner registered, an
operator added, a partner's or the token signing key rotated), recorded in the change's transaction
and searched through the shared AuditTrail (`GET /v1/ops/audit?service=identity`).

Secrets and keys themselves are never recorded: only who, what, which object and when.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.identity.models import AdminChange
from services.runtime.audit_trail import AuditQuery, AuditRecord, narrowed
from services.runtime.db import read_session

TOOLS = "tools"


@dataclass(frozen=True)
class ChangedBy:
    """The operator making a registry change ("tools" when the platform's own loader does)."""

    operator_id: str = TOOLS
    branch: str = ""


def record(
    session: Session,
    *,
    by: ChangedBy | None,
    action: str,
    entity: str,
    entity_id: str,
    branch: str = "",
    detail: str = "",
) -> None:
    """Add the change to the trail inside the caller's transaction."""
    by = by or ChangedBy()
    session.add(
        AdminChange(
            operator_id=by.operator_id or TOOLS,
            operator_branch=by.branch,
            action=action,
            entity=entity,
            entity_id=entity_id,
            branch=branch,
            detail=detail[:500],
        )
    )


def search_audit(*, engine: Engine, query: AuditQuery) -> list[AuditRecord]:
    """Identity's records matching the query in its order (a branch sees its own branch's objects)."""
    columns = {
        "id": col(AdminChange.change_id),
        "at": col(AdminChange.at),
        "operator": col(AdminChange.operator_id),
        "action": col(AdminChange.action),
        "entity": col(AdminChange.entity),
        "entity_id": col(AdminChange.entity_id),
        "branch": col(AdminChange.branch),
    }
    with read_session(engine) as session:
        rows = session.exec(narrowed(select(AdminChange), query, columns=columns)).all()
    return [
        AuditRecord(
            record_id=int(r.change_id or 0),
            at=r.at,
            operator_id=r.operator_id,
            operator_branch=r.operator_branch,
            action=r.action,
            entity=r.entity,
            entity_id=r.entity_id,
            branch=r.branch,
            detail=r.detail,
        )
        for r in rows
    ]
