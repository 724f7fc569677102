"""The operators' audit search across services: `GET /v1/ops/audit`.

The gateway asks every service's AuditTrail (lattice.audit.v1) for one page and merges them newest
first by (at, service, record id), or oldest first with `sort=at`; the page token is the last
record's key, marked with the direction (a token of the other direction is refused). Each service enforces
the role and branch scope itself (a branch operator gets only records about its branch's objects).
Viewer and up: leadership and analysts read every report. A service that does not answer fails the
whole search (503), never a silently partial trail.
"""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from lattice.audit.v1 import audit_pb2 as pb
from lattice.audit.v1 import audit_pb2_grpc
from pydantic import AwareDatetime, BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.problems import Problem
from gateway.routes.sorting import sort_query
from services.runtime.clock import to_timestamp
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1/ops/audit", tags=["audit"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
TRAILS = ("benefits", "content", "conversion", "identity", "reach")
# The page token is opaque (base64url of "<micros>.<service>.<record id>", "a." in front oldest first):
# in the clear, its 16-digit time read as a card number to the personal-number guard now and then.
Token = r"^([A-Za-z0-9_-]{8,120})?$"
_CURSOR = re.compile(r"(a\.)?([0-9]{1,20})\.([a-z]{2,20})\.([0-9]{1,19})")
_OLDEST = "a."  # the mark of an oldest-first token
Word = r"^([A-Za-z0-9_.:-]{1,64})?$"


class AuditRecordPublic(BaseModel):
    service: str
    record_id: int
    at: datetime
    operator_id: str
    operator_branch: str
    action: str
    entity: str
    entity_id: str
    branch: str
    reason: str
    detail: str


class AuditPage(BaseModel):
    records: list[AuditRecordPublic]
    next_page_token: str = ""


def cursor(token: str, *, oldest_first: bool = False) -> pb.Cursor | None:
    """The position a page token records; a token of the other direction is invalid_page_token."""
    if not token:
        return None
    try:
        found = _CURSOR.fullmatch(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        found = None
    if found is None:
        raise Problem(422, "invalid_page_token", "page_token is not one this API gave out")
    mark, micros, service, record_id = found.groups()
    if bool(mark) != oldest_first:
        raise Problem(422, "invalid_page_token", "page_token belongs to another sort")
    seconds, fraction = divmod(int(micros), 1_000_000)
    at = datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=fraction)
    return pb.Cursor(at=to_timestamp(at), service=service, record_id=int(record_id))


def _token(record: pb.AuditRecord, *, oldest_first: bool) -> str:
    micros = record.at.seconds * 1_000_000 + record.at.nanos // 1000
    raw = f"{_OLDEST if oldest_first else ''}{micros}.{record.service}.{record.record_id}"
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


@router.get(
    "",
    operation_id="search_audit_trail",
    response_model=AuditPage,
    summary="Who did what, when, to which object, across every service",
)
async def search_audit(
    clients: ClientsDep,
    operator: Viewer,
    service: Annotated[str, Query(pattern=r"^([a-z]{2,20})?$", description="only this service's trail")] = "",
    by_operator: Annotated[str, Query(pattern=Word, description="who acted")] = "",
    action: Annotated[str, Query(pattern=Word)] = "",
    entity: Annotated[str, Query(pattern=Word, description="item, placement, slot, benefit...")] = "",
    entity_id: Annotated[str, Query(pattern=r"^([A-Za-z0-9_.:/-]{1,120})?$")] = "",
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(pattern=Token)] = "",
    sort: Annotated[str, sort_query("at")] = "",
) -> AuditPage:
    """Newest first (`sort=-at`, the default) or oldest first (`sort=at`), ties by service and record
    id; every filter is exact; `since` is inclusive and `until` exclusive."""
    oldest_first = sort == "at"
    if service and service not in TRAILS:
        raise Problem(422, "unknown_service", f"the audit trails are kept by {', '.join(TRAILS)}")
    if since and until and since >= until:
        raise Problem(422, "invalid_period", "since must be before until")
    request = pb.SearchAuditRequest(
        actor=to_proto(pb.Actor, operator),
        by_operator=by_operator,
        action=action,
        entity=entity,
        entity_id=entity_id,
        since=to_timestamp(since) if since else None,
        until=to_timestamp(until) if until else None,
        page_size=limit + 1,
        oldest_first=oldest_first,
    )
    position = cursor(page_token, oldest_first=oldest_first)
    if position is not None:
        (request.after if oldest_first else request.before).CopyFrom(position)
    trails = [service] if service else list(TRAILS)
    replies = await asyncio.gather(
        *(audit_pb2_grpc.AuditTrailStub(clients.channels[name]).SearchAudit(request) for name in trails)
    )
    found = [r for reply in replies for r in reply.records]
    shown, token = merge(found, limit=limit, oldest_first=oldest_first)
    return AuditPage(records=[from_proto(AuditRecordPublic, r) for r in shown], next_page_token=token)


def merge(
    records: list[pb.AuditRecord], *, limit: int, oldest_first: bool = False
) -> tuple[list[pb.AuditRecord], str]:
    """One page of the services' answers by (at, service, record id), newest first unless
    `oldest_first`, and the next token."""
    ordered = sorted(
        records,
        key=lambda r: (r.at.seconds, r.at.nanos, r.service, r.record_id),
        reverse=not oldest_first,
    )
    shown = ordered[:limit]
    return shown, _token(shown[-1], oldest_first=oldest_first) if len(ordered) > limit else ""
