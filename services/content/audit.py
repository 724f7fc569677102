"""The audit trail of content: who did what, when and why, written with the change itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.content.models import AuditEntry, ContentItem, Placement, ResourceSlot
from services.runtime.db import read_session
from services.runtime.errors import InvalidInput, NotFound
from services.runtime.paging import read_page

if TYPE_CHECKING:
    from services.content.catalogue import Actor

OWNED: dict[str, type[ContentItem | Placement | ResourceSlot]] = {
    "item": ContentItem,
    "placement": Placement,
    "slot": ResourceSlot,
}


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


def list_audit(
    *, engine: Engine, actor: Actor, entity: str, entity_id: str, size: int, token: str
) -> tuple[list[AuditEntry], str]:
    """A page of the entries of one item, placement or slot the operator may see, oldest first; else 404."""
    actor.require("viewer")
    if entity not in OWNED:
        raise InvalidInput("invalid_entity", "the audit trail is kept for items, placements and slots")
    with read_session(engine) as session:
        found = session.get(OWNED[entity], entity_id) if entity_id else None
        # Slots belong to head office and are shared with every branch; the rest is branch-scoped.
        if found is None or not actor.sees(getattr(found, "owner_branch", actor.branch)):
            raise NotFound(f"{entity}_not_found", f"no {entity} {entity_id}")
        stmt = select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
        return read_page(session, stmt, [(col(AuditEntry.id), False)], token=token, size=size)
