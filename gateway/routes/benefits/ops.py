"""Operators: the catalogue with review (no self-approval, branch scope) and revocation of grants."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from lattice.benefits.v1 import benefits_pb2 as pb
from pydantic import Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.paging import Page
from gateway.routes.benefits.calls import caller_key, operator_principal
from gateway.routes.benefits.schemas import (
    BenefitDraft,
    BenefitPublic,
    GrantPublic,
    Review,
    Slug,
)
from gateway.routes.sorting import sort_query, token_query
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1", tags=["benefits"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
Operator = Annotated[OperatorPrincipal, require_role("operator")]
Reviewer = Annotated[OperatorPrincipal, require_role("reviewer")]
Admin = Annotated[OperatorPrincipal, require_role("admin")]


@router.post(
    "/ops/benefits",
    operation_id="draft_benefit",
    summary="Draft a benefit",
    status_code=status.HTTP_201_CREATED,
    response_model=BenefitPublic,
)
async def draft_benefit(body: BenefitDraft, clients: ClientsDep, operator: Operator) -> BenefitPublic:
    """Draft a benefit; a branch operator drafts for their own branch only."""
    resp = await clients.benefits.CreateBenefit(
        pb.CreateBenefitRequest(benefit=to_proto(pb.Benefit, body), principal=operator_principal(operator))
    )
    return from_proto(BenefitPublic, resp.benefit)


@router.post(
    "/ops/benefits/{benefit_id}/review",
    operation_id="review_benefit",
    summary="Approve or reject a drafted benefit",
    response_model=BenefitPublic,
)
async def review_benefit(
    benefit_id: Slug,
    body: Review,
    clients: ClientsDep,
    operator: Reviewer,
) -> BenefitPublic:
    """Approve (funding the budget) or reject a draft; never one's own."""
    resp = await clients.benefits.ReviewBenefit(
        to_proto(pb.ReviewBenefitRequest, body, benefit_id=benefit_id, principal=operator_principal(operator))
    )
    return from_proto(BenefitPublic, resp.benefit)


@router.get(
    "/ops/benefits/{benefit_id}",
    operation_id="get_benefit",
    summary="Get a benefit",
    response_model=BenefitPublic,
)
async def get_benefit(benefit_id: Slug, clients: ClientsDep, operator: Viewer) -> BenefitPublic:
    """One benefit of the operator's scope (another branch's is 404)."""
    resp = await clients.benefits.GetBenefit(
        pb.GetBenefitRequest(benefit_id=benefit_id, principal=operator_principal(operator))
    )
    return from_proto(BenefitPublic, resp.benefit)


class BenefitPage(Page[BenefitPublic]):
    """One page of the catalogue."""


@router.get(
    "/ops/benefits",
    operation_id="list_benefits",
    summary="List the benefits catalogue",
    response_model=BenefitPage,
)
async def list_benefits(
    clients: ClientsDep,
    operator: Viewer,
    status_: Annotated[
        Literal["draft", "approved", "rejected", "paused", "stopped"] | None, Query(alias="status")
    ] = None,
    page_token: Annotated[str, token_query()] = "",
    sort: Annotated[str, sort_query("benefit_id", "name", "kind", "status", "created_at")] = "",
    page_size: Annotated[int, Query(ge=1, le=100)] = 100,
) -> BenefitPage:
    """The catalogue in the operator's scope (head office: all, a branch its own), by id or `sort`."""
    resp = await clients.benefits.ListBenefits(
        pb.ListBenefitsRequest(
            status=status_ or "",
            principal=operator_principal(operator),
            page_size=page_size,
            page_token=page_token,
            sort=sort,
        )
    )
    return BenefitPage.of([from_proto(BenefitPublic, b) for b in resp.benefits], resp.next_page_token)


@router.post(
    "/ops/grants/{grant_id}/revoke",
    operation_id="revoke_grant",
    summary="Revoke an unused grant",
    response_model=GrantPublic,
)
async def revoke_grant(
    grant_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")],
    clients: ClientsDep,
    operator: Operator,
    idempotency_key: IdempotencyKeyDep = None,
) -> GrantPublic:
    """Take back an unused grant of a benefit in the operator's scope; its value returns to the budget."""
    resp = await clients.benefits.RevokeGrant(
        pb.RevokeGrantRequest(
            grant_id=grant_id,
            principal=operator_principal(operator),
            idempotency_key=caller_key(f"ops:{operator.operator_id}", idempotency_key),
        )
    )
    return from_proto(GrantPublic, resp.grant)
