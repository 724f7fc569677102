"""The content desk of operations staff under `/v1/ops/content`: items, review, slots, placements.

Roles: viewers read, operators author, publish and place, reviewers approve, reject and roll back.
The content service itself refuses approval by anyone who authored or edited the version and
enforces branch scope on every read and write (head office sees and manages everything; a branch
operator sees only its own branch's items and placements, another branch's are 404; slots are
head office's and shared).
"""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Query, status
from lattice.content.v1 import content_pb2 as pb

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.paging import Page, PageSize, PageToken
from gateway.problems import Problem
from gateway.routes.content.public import (
    Compliance,
    ContentAuditPublic,
    FindingPublic,
    ItemPage,
    ItemPublic,
    Submitted,
    audit_public,
)
from gateway.routes.content.schemas import (
    Approval,
    ItemAction,
    ItemCreate,
    ItemUpdate,
    ReasonedAction,
    Rollback,
    Slug,
)
from gateway.routes.sorting import sort_query, token_query
from services.runtime.grpc_client import error_details, reason_of
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

items_router = APIRouter(prefix="/v1/ops/content/items", tags=["content"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
Author = Annotated[OperatorPrincipal, require_role("operator")]
Reviewer = Annotated[OperatorPrincipal, require_role("reviewer")]


class ContentAuditPage(Page[ContentAuditPublic]):
    """One page of an item's, placement's or slot's audit trail, oldest first."""


def actor(operator: OperatorPrincipal) -> pb.Actor:
    return to_proto(pb.Actor, operator)  # its id, role and branch ("" for head office)


@items_router.post(
    "",
    operation_id="create_content_item",
    summary="Create a content item",
    status_code=status.HTTP_201_CREATED,
    response_model=ItemPublic,
)
async def create_item(body: ItemCreate, clients: ClientsDep, operator: Author) -> ItemPublic:
    """Create an item with its first draft (a branch operator's item belongs to its branch)."""
    resp = await clients.content.CreateItem(to_proto(pb.CreateItemRequest, body, actor=actor(operator)))
    return from_proto(ItemPublic, resp.item)


@items_router.get(
    "", operation_id="list_content_items", summary="List content items", response_model=ItemPage
)
async def list_items(
    clients: ClientsDep,
    operator: Viewer,
    item_status: Annotated[str, Query(alias="status", pattern=r"^(active|archived)?$")] = "",
    stage: Annotated[str, Query(pattern=r"^(draft|in_review|approved)?$")] = "",
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, token_query()] = "",
    sort: Annotated[str, sort_query("item_id", "type", "status", "created_at", "updated_at")] = "",
) -> ItemPage:
    """Items in the operator's scope, by id or `sort`; `stage=in_review` is the review queue."""
    resp = await clients.content.ListItems(
        pb.ListItemsRequest(
            actor=actor(operator),
            page_size=page_size,
            page_token=page_token,
            status=item_status,
            stage=stage,
            sort=sort,
        )
    )
    return ItemPage(items=from_protos(ItemPublic, resp.items), next_page_token=resp.next_page_token or None)


@items_router.get(
    "/{item_id}", operation_id="get_content_item", summary="Get a content item", response_model=ItemPublic
)
async def get_item(item_id: Slug, clients: ClientsDep, operator: Viewer) -> ItemPublic:
    """One item with every version; 404 for another branch's item."""
    resp = await clients.content.GetItem(pb.GetItemRequest(actor=actor(operator), item_id=item_id))
    return from_proto(ItemPublic, resp.item)


@items_router.put(
    "/{item_id}/draft",
    operation_id="edit_content_draft",
    summary="Edit a content item's draft",
    response_model=ItemPublic,
)
async def edit_item(item_id: Slug, body: ItemUpdate, clients: ClientsDep, operator: Author) -> ItemPublic:
    """Edit the draft; on a published item this opens a new draft while the published one stays served."""
    resp = await clients.content.EditItem(
        to_proto(pb.EditItemRequest, body, actor=actor(operator), item_id=item_id)
    )
    return from_proto(ItemPublic, resp.item)


@items_router.post(
    "/{item_id}/submit",
    operation_id="submit_content_item",
    summary="Submit a draft for review",
    response_model=Submitted,
)
async def submit_item(
    item_id: Slug, clients: ClientsDep, operator: Author, body: ItemAction | None = None
) -> Submitted:
    """Send the draft to review; the compliance findings come back at once."""
    resp = await clients.content.SubmitItem(
        to_proto(pb.SubmitItemRequest, body, actor=actor(operator), item_id=item_id)
    )
    return Submitted(
        item=from_proto(ItemPublic, resp.item), findings=from_protos(FindingPublic, resp.findings)
    )


@items_router.get(
    "/{item_id}/compliance",
    operation_id="check_content_compliance",
    summary="Check a version against the compliance rules",
    response_model=Compliance,
)
async def check_compliance(
    item_id: Slug,
    clients: ClientsDep,
    operator: Viewer,
    version: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Compliance:
    """The compliance findings for one version of the item (the latest when `version` is 0)."""
    resp = await clients.content.CheckItemCompliance(
        pb.CheckItemComplianceRequest(actor=actor(operator), item_id=item_id, version=version)
    )
    return Compliance(version=resp.version, findings=from_protos(FindingPublic, resp.findings))


@items_router.post(
    "/{item_id}/approve",
    operation_id="approve_content_item",
    summary="Approve a content version",
    response_model=ItemPublic,
)
async def approve_item(
    item_id: Slug, clients: ClientsDep, operator: Reviewer, body: Approval | None = None
) -> ItemPublic:
    """Approve the version in review: 403 `own_work` for its author or an editor, 409 with each hit."""
    try:
        resp = await clients.content.ApproveItem(
            to_proto(pb.ApproveItemRequest, body, actor=actor(operator), item_id=item_id)
        )
    except grpc.aio.AioRpcError as exc:
        if reason_of(exc) != "compliance_violation":
            raise
        # content says which findings blocked the approval (the status's structured detail)
        violation = error_details(exc, pb.ComplianceViolation)
        violations = (
            [from_proto(FindingPublic, f).model_dump() for f in violation.findings] if violation else []
        )
        raise Problem(
            409, "compliance_violation", exc.details() or "", extra={"violations": violations}
        ) from None
    return from_proto(ItemPublic, resp.item)


@items_router.post(
    "/{item_id}/reject",
    operation_id="reject_content_item",
    summary="Reject a content version",
    response_model=ItemPublic,
)
async def reject_item(
    item_id: Slug, body: ReasonedAction, clients: ClientsDep, operator: Reviewer
) -> ItemPublic:
    """Send the version in review back to its author with the reason."""
    resp = await clients.content.RejectItem(
        to_proto(pb.RejectItemRequest, body, actor=actor(operator), item_id=item_id)
    )
    return from_proto(ItemPublic, resp.item)


@items_router.post(
    "/{item_id}/publish",
    operation_id="publish_content_item",
    summary="Publish the approved version",
    response_model=ItemPublic,
)
async def publish_item(
    item_id: Slug, clients: ClientsDep, operator: Author, body: ItemAction | None = None
) -> ItemPublic:
    """Serve the approved version from now on (the previous one is superseded)."""
    resp = await clients.content.PublishItem(
        to_proto(pb.PublishItemRequest, body, actor=actor(operator), item_id=item_id)
    )
    return from_proto(ItemPublic, resp.item)


@items_router.post(
    "/{item_id}/archive",
    operation_id="archive_content_item",
    summary="Archive a content item",
    response_model=ItemPublic,
)
async def archive_item(
    item_id: Slug, body: ReasonedAction, clients: ClientsDep, operator: Author
) -> ItemPublic:
    """Stop serving the item anywhere; its versions and audit trail stay."""
    resp = await clients.content.ArchiveItem(
        to_proto(pb.ArchiveItemRequest, body, actor=actor(operator), item_id=item_id)
    )
    return from_proto(ItemPublic, resp.item)


@items_router.post(
    "/{item_id}/rollback",
    operation_id="roll_back_content_item",
    summary="Serve an earlier published version",
    response_model=ItemPublic,
)
async def rollback_item(item_id: Slug, body: Rollback, clients: ClientsDep, operator: Reviewer) -> ItemPublic:
    """Serve an earlier, once published version again."""
    resp = await clients.content.RollbackItem(
        to_proto(pb.RollbackItemRequest, body, actor=actor(operator), item_id=item_id)
    )
    return from_proto(ItemPublic, resp.item)


@items_router.get(
    "/{item_id}/audit",
    operation_id="get_content_item_audit_trail",
    summary="Get a content item's audit trail",
    response_model=ContentAuditPage,
)
async def item_audit(
    item_id: Slug, clients: ClientsDep, operator: Viewer, page_size: PageSize = 50, page_token: PageToken = ""
) -> ContentAuditPage:
    """Who created, edited, submitted, approved, published, archived or rolled back the item, and when."""
    return await audit_page(clients, operator, "item", item_id, page_size, page_token)


async def audit_page(
    clients: ClientsDep, operator: OperatorPrincipal, entity: str, entity_id: str, size: int, token: str
) -> ContentAuditPage:
    """A page of one item's, placement's or slot's audit trail, oldest first."""
    resp = await clients.content.ListAuditEntries(
        pb.ListAuditEntriesRequest(
            actor=actor(operator), entity=entity, entity_id=entity_id, page_size=size, page_token=token
        )
    )
    return ContentAuditPage.of([audit_public(e) for e in resp.entries], resp.next_page_token)
