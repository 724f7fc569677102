"""The one audit search every service answers over its own trail (lattice.audit.v1.AuditTrail).

A service supplies `search(engine=, query=)` returning its records in the query's order (newest first,
or oldest first when asked) through `narrowed` (SQL) or `page_of` (records derived in Python); this
module checks the operator, pages with the shared cursor and wires the servicer with its callers.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import grpc
from lattice.audit.v1 import audit_pb2 as pb
from lattice.audit.v1 import audit_pb2_grpc
from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine

from services.runtime.callers import GATEWAY
from services.runtime.clock import from_timestamp, to_timestamp
from services.runtime.errors import Forbidden, InvalidInput
from services.runtime.service import ServiceContext

ROLES = ("viewer", "operator", "reviewer", "admin")
MAX_PAGE = 500
CEILING = 2**63 - 1


@dataclass(frozen=True)
class AuditQuery:
    """What an operator searches for; `branch` is the operator's scope ('' head office sees all)."""

    branch: str
    by_operator: str = ""
    action: str = ""
    entity: str = ""
    entity_id: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    # the position in the order: newest first, records whose (at, record_id) is below it; oldest
    # first, above it; None = from the start
    cursor: tuple[datetime, int] | None = None
    oldest_first: bool = False

    def beyond(self, at: datetime, record_id: int) -> bool:
        """Whether a record comes after the cursor in the query's order."""
        if self.cursor is None:
            return True
        return (at, record_id) > self.cursor if self.oldest_first else (at, record_id) < self.cursor

    def unscoped(self) -> AuditQuery:
        """The same search for a trail that applies branch scope itself (shared objects)."""
        return replace(self, branch="")


@dataclass(frozen=True)
class AuditRecord:
    """One line of a trail: who did what to which object, when and why."""

    record_id: int
    at: datetime
    operator_id: str
    operator_branch: str
    action: str
    entity: str
    entity_id: str
    branch: str
    reason: str = ""
    detail: str = ""


Search = Callable[..., list[AuditRecord]]


def _query(request: pb.SearchAuditRequest, service: str) -> AuditQuery:
    actor = request.actor
    if not actor.operator_id or actor.role not in ROLES:
        raise Forbidden("role_required", "the audit trail is for operations staff")
    if not 1 <= (request.page_size or 50) <= MAX_PAGE:
        raise InvalidInput("invalid_page_size", f"page_size is 1..{MAX_PAGE}")
    oldest = request.oldest_first
    if request.HasField("before" if oldest else "after"):
        raise InvalidInput("invalid_cursor", "the cursor points the other way than the order")
    position = None
    if request.HasField("after" if oldest else "before"):
        cursor = request.after if oldest else request.before
        at = from_timestamp(cursor.at)
        if at is None:
            raise InvalidInput("invalid_cursor", "the cursor names no time")
        # The gateway orders by (at, service, record_id): at the cursor's instant, newest first, a
        # service named before the cursor's keeps all its records (ids below the ceiling), the
        # cursor's own service those of smaller ids, a service named after it none (below -1); oldest
        # first, the one named before none (above the ceiling), the one after all (above -1).
        bound = CEILING if service < cursor.service else -1
        position = (at, cursor.record_id if service == cursor.service else bound)
    return AuditQuery(
        branch=actor.branch,
        by_operator=request.by_operator,
        action=request.action,
        entity=request.entity,
        entity_id=request.entity_id,
        since=from_timestamp(request.since),
        until=from_timestamp(request.until),
        limit=request.page_size or 50,
        cursor=position,
        oldest_first=oldest,
    )


class AuditTrailApi(audit_pb2_grpc.AuditTrailServicer):
    """SearchAudit over one service's trail."""

    def __init__(self, ctx: ServiceContext, *, service: str, search: Search) -> None:
        self._engine: Engine = ctx.engine
        self._service = service
        self._search = search

    async def SearchAudit(  # noqa: N802
        self, request: pb.SearchAuditRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SearchAuditResponse:
        query = _query(request, self._service)
        records = await asyncio.to_thread(self._search, engine=self._engine, query=query)
        return pb.SearchAuditResponse(
            records=[
                pb.AuditRecord(
                    service=self._service,
                    record_id=r.record_id,
                    at=to_timestamp(r.at),
                    operator_id=r.operator_id,
                    operator_branch=r.operator_branch,
                    action=r.action,
                    entity=r.entity,
                    entity_id=r.entity_id,
                    branch=r.branch,
                    reason=r.reason,
                    detail=r.detail[:500],
                )
                for r in records[: query.limit]
            ]
        )


def serve_audit_trail(ctx: ServiceContext, server: grpc.aio.Server, *, service: str, search: Search) -> str:
    """Register the audit search of a service; returns its full name for reflection."""
    audit_pb2_grpc.add_AuditTrailServicer_to_server(
        AuditTrailApi(ctx, service=service, search=search), server
    )
    descriptor = pb.DESCRIPTOR.services_by_name["AuditTrail"]
    ctx.callers.declare(descriptor, {"SearchAudit": GATEWAY})
    return descriptor.full_name


def narrowed(stmt: Any, query: AuditQuery, *, columns: dict[str, Any]) -> Any:
    """`stmt` filtered by the query, its cursor and branch scope, in its order (by at then id), a page.

    `columns` names the trail's columns: id, at, operator, action, entity, entity_id, branch.
    """
    c = columns
    if query.branch:
        stmt = stmt.where(c["branch"] == query.branch)
    for name, value in (
        ("operator", query.by_operator),
        ("action", query.action),
        ("entity", query.entity),
        ("entity_id", query.entity_id),
    ):
        if value:
            stmt = stmt.where(c[name] == value)
    if query.since:
        stmt = stmt.where(c["at"] >= query.since)
    if query.until:
        stmt = stmt.where(c["at"] < query.until)
    if query.cursor:
        at, bound = query.cursor
        if query.oldest_first:
            stmt = stmt.where(or_(c["at"] > at, and_(c["at"] == at, c["id"] > bound)))
        else:
            stmt = stmt.where(or_(c["at"] < at, and_(c["at"] == at, c["id"] < bound)))
    order = (c["at"].asc(), c["id"].asc()) if query.oldest_first else (c["at"].desc(), c["id"].desc())
    return stmt.order_by(*order).limit(query.limit)


def stable_id(*parts: object) -> int:
    """A record id for a trail derived from other tables: the same row and event always get the same id."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=7).digest()
    return int.from_bytes(digest, "big")


def page_of(records: list[AuditRecord], query: AuditQuery) -> list[AuditRecord]:
    """The query's page of records already read (trails derived in Python from small history tables)."""
    wanted = [
        r
        for r in records
        if (not query.branch or r.branch == query.branch)
        and (not query.by_operator or r.operator_id == query.by_operator)
        and (not query.action or r.action == query.action)
        and (not query.entity or r.entity == query.entity)
        and (not query.entity_id or r.entity_id == query.entity_id)
        and (query.since is None or r.at >= query.since)
        and (query.until is None or r.at < query.until)
        and query.beyond(r.at, r.record_id)
    ]
    wanted.sort(key=lambda r: (r.at, r.record_id), reverse=not query.oldest_first)
    return wanted[: query.limit]
