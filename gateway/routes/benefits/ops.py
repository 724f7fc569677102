"""Operators: the catalogue with review (no self-approval, branch scope), revocation, ledger proof."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from lattice.benefits.v1 import benefits_pb2 as pb
from pydantic import Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import Clients, ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.problems import Problem
from gateway.routes.benefits.calls import caller_key
from gateway.routes.benefits.schemas import (
    BenefitDraft,
    BenefitPublic,
    GrantPublic,
    Review,
    Slug,
    benefit_public,
    grant_public,
)
from services.benefits.convert import KIND_TO_PB
from services.runtime.clock import to_timestamp

router = APIRouter(prefix="/v1", tags=["benefits"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
Operator = Annotated[OperatorPrincipal, require_role("operator")]
Reviewer = Annotated[OperatorPrincipal, require_role("reviewer")]
Admin = Annotated[OperatorPrincipal, require_role("admin")]


@router.post("/ops/benefits", status_code=status.HTTP_201_CREATED, response_model=BenefitPublic)
async def draft_benefit(body: BenefitDraft, clients: ClientsDep, operator: Operator) -> BenefitPublic:
    """Draft a benefit; a branch operator drafts for their own branch only."""
    branch = body.branch if operator.head_office else operator.branch
    if body.branch and not operator.can_manage_branch(body.branch):
        raise Problem(403, "branch_scope", "operators act only within their branch")
    fields = body.model_dump(exclude={"kind", "branch", "valid_from", "valid_until"})
    draft = pb.Benefit(
        **fields,
        kind=KIND_TO_PB[body.kind],
        branch=branch or "",
        valid_from=to_timestamp(body.valid_from),
        valid_until=to_timestamp(body.valid_until),
    )
    resp = await clients.benefits.CreateBenefit(
        pb.CreateBenefitRequest(benefit=draft, operator_id=operator.operator_id)
    )
    return benefit_public(resp.benefit)


async def scoped_benefit(clients: Clients, operator: OperatorPrincipal, benefit_id: str) -> pb.Benefit:
    benefit = (await clients.benefits.GetBenefit(pb.GetBenefitRequest(benefit_id=benefit_id))).benefit
    if not operator.can_manage_branch(benefit.branch or None):
        raise Problem(404, "benefit_not_found", f"no benefit {benefit_id}")
    return benefit


@router.post("/ops/benefits/{benefit_id}/review", response_model=BenefitPublic)
async def review_benefit(
    benefit_id: Slug,
    body: Review,
    clients: ClientsDep,
    operator: Reviewer,
) -> BenefitPublic:
    """Approve (funding the budget) or reject a draft; never one's own."""
    await scoped_benefit(clients, operator, benefit_id)
    resp = await clients.benefits.ReviewBenefit(
        pb.ReviewBenefitRequest(
            benefit_id=benefit_id, reviewer_id=operator.operator_id, approve=body.approve, note=body.note
        )
    )
    return benefit_public(resp.benefit)


@router.get("/ops/benefits/{benefit_id}", response_model=BenefitPublic)
async def get_benefit(benefit_id: Slug, clients: ClientsDep, operator: Viewer) -> BenefitPublic:
    return benefit_public(await scoped_benefit(clients, operator, benefit_id))


@router.get("/ops/benefits", response_model=list[BenefitPublic])
async def list_benefits(
    clients: ClientsDep,
    operator: Viewer,
    status_: Annotated[Literal["draft", "approved", "rejected"] | None, Query(alias="status")] = None,
    page_token: Annotated[str, Query(max_length=40)] = "",
) -> list[BenefitPublic]:
    resp = await clients.benefits.ListBenefits(
        pb.ListBenefitsRequest(
            status=status_ or "", branch=operator.branch or "", page_size=100, page_token=page_token
        )
    )
    return [benefit_public(b) for b in resp.benefits]


@router.post("/ops/grants/{grant_id}/revoke", response_model=GrantPublic)
async def revoke_grant(
    grant_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")],
    clients: ClientsDep,
    operator: Operator,
    idempotency_key: IdempotencyKeyDep = None,
) -> GrantPublic:
    """Take back an unused grant; its value returns to the budget (head office)."""
    if not operator.head_office:
        raise Problem(403, "head_office_only", "grants are revoked by head office")
    resp = await clients.benefits.RevokeGrant(
        pb.RevokeGrantRequest(
            grant_id=grant_id,
            operator_id=operator.operator_id,
            idempotency_key=caller_key("ops", idempotency_key),
        )
    )
    return grant_public(resp.grant)


@router.get("/ops/benefits-ledger/check")
async def check_ledger(clients: ClientsDep, operator: Admin) -> dict[str, object]:
    """Prove the benefits ledger balances (head-office admins)."""
    if not operator.head_office:
        raise Problem(403, "head_office_only", "the ledger check is for head office")
    r = await clients.benefits.CheckLedger(pb.CheckLedgerRequest())
    return {
        "balanced": r.balanced,
        "total_debits": r.total_debits,
        "total_credits": r.total_credits,
        "entries": r.entries,
        "postings": r.postings,
        "unbalanced_entries": list(r.unbalanced_entries),
        "mismatches": [m.account_id for m in r.mismatches],
        "negative_accounts": list(r.negative_accounts),
    }
