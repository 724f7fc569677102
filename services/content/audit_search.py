"""Content's part of the operators' audit search: items, placements and slots, by the object's branch."""

from __future__ import annotations

import json

from sqlalchemy import and_, case, func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.content.models import AuditEntry, ContentItem, Placement
from services.runtime.audit_trail import AuditQuery, AuditRecord, narrowed
from services.runtime.db import read_session


def search_audit(*, engine: Engine, query: AuditQuery) -> list[AuditRecord]:
    """Content's audit records matching the query in its order; slots are head office's and shared."""
    branch = func.coalesce(
        case(
            (col(AuditEntry.entity) == "item", ContentItem.owner_branch),
            (col(AuditEntry.entity) == "placement", Placement.owner_branch),
        ),
        "",
    )
    stmt = (
        select(AuditEntry, branch)
        .outerjoin(
            ContentItem,
            and_(col(AuditEntry.entity) == "item", col(ContentItem.item_id) == col(AuditEntry.entity_id)),
        )
        .outerjoin(
            Placement,
            and_(
                col(AuditEntry.entity) == "placement",
                col(Placement.placement_id) == col(AuditEntry.entity_id),
            ),
        )
    )
    if query.branch:  # a branch sees its own objects and the shared slots
        stmt = stmt.where((branch == query.branch) | (col(AuditEntry.entity) == "slot"))
    columns = {
        "id": col(AuditEntry.id),
        "at": col(AuditEntry.at),
        "operator": col(AuditEntry.actor_id),
        "action": col(AuditEntry.action),
        "entity": col(AuditEntry.entity),
        "entity_id": col(AuditEntry.entity_id),
        "branch": branch,
    }
    stmt = narrowed(stmt, query.unscoped(), columns=columns)
    with read_session(engine) as session:
        rows = session.exec(stmt).all()
    return [
        AuditRecord(
            record_id=entry.id or 0,
            at=entry.at,
            operator_id=entry.actor_id,
            operator_branch=entry.actor_branch,
            action=entry.action,
            entity=entry.entity,
            entity_id=entry.entity_id,
            branch=owner or "",
            reason=entry.reason,
            detail=json.dumps(
                {"version": entry.version, **entry.details}, ensure_ascii=False, sort_keys=True
            ),
        )
        for entry, owner in rows
    ]
