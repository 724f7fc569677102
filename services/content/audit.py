"""The audit trail of content: who did what, when and why, written with the change itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.content.models import AuditEntry
from services.runtime.db import read_session

if TYPE_CHECKING:
    from services.content.catalogue import Actor

MAX_ENTRIES = 500


def record_audit(
    session: Session,
    *,
    actor: Actor,
    entity: str,
    entity_id: str,
    action: str,
    version: int = 0,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry in the caller's transaction."""
    session.add(
        AuditEntry(
            entity=entity,
            entity_id=entity_id,
            version=version,
            action=action,
            actor_id=actor.operator_id,
            actor_role=actor.role,
            actor_branch=actor.branch,
            reason=reason[:500],
            details=details or {},
        )
    )


def list_audit(*, engine: Engine, entity: str, entity_id: str) -> list[AuditEntry]:
    """The newest entries of one item, placement or slot, oldest first."""
    with read_session(engine) as session:
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
            .order_by(col(AuditEntry.id))
            .limit(MAX_ENTRIES)
        )
        return list(session.exec(stmt))
