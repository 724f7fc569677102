"""Operators: pause / resume / stop a live benefit, reviewed top-ups and extensions, the audit trail,
and the ledger (whole-ledger proof, an account's balance as of a time)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from lattice.benefits.v1 import benefits_pb2 as pb
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.paging import Page, PageSize, PageToken
from gateway.routes.benefits.calls import operator_principal
from gateway.routes.benefits.schemas import (
    Amount,
    BenefitPublic,
    Review,
    Slug,
    Strict,
)
from services.runtime.clock import to_timestamp
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

router = APIRouter(prefix="/v1", tags=["benefits"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
Operator = Annotated[OperatorPrincipal, require_role("operator")]
Reviewer = Annotated[OperatorPrincipal, require_role("reviewer")]
Admin = Annotated[OperatorPrincipal, require_role("admin")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
ChangeId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Account = Annotated[str, Path(pattern=r"^(funder|budget|grant|hold|redeemed|expired):[a-z0-9:_-]{1,100}$")]


class StateChange(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "paused while the partner fixes its checkout"}]}
    )
    reason: Reason


class TopUp(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"total_budget_increase": 100000, "reason": "the campaign runs two weeks longer"}]
        }
    )
    total_budget_increase: Amount = 0
    daily_budget: Amount = 0
    reason: Reason


class Extension(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"valid_until": "2027-03-31T23:59:59+08:00", "reason": "spring festival extension"}]
        }
    )
    valid_until: AwareDatetime
    reason: Reason


class ChangePublic(BaseModel):
    change_id: str
    benefit_id: str
    kind: str
    total_budget_increase: int
    daily_budget: int
    valid_until: datetime | None
    reason: str
    status: str
    requested_by: str
    reviewed_by: str
    review_note: str
    requested_at: datetime | None


class ReviewedChange(BaseModel):
    change: ChangePublic
    benefit: BenefitPublic


class AuditPublic(BaseModel):
    action: str
    actor_id: str
    actor_branch: str
    reason: str
    detail: str
    at: datetime | None


class BenefitChangePage(Page[ChangePublic]):
    """One page of a benefit's top-ups and extensions, oldest request first."""


class BenefitAuditPage(Page[AuditPublic]):
    """One page of a benefit's audit trail, oldest first."""


class BalancePublic(BaseModel):
    account_id: str
    balance: int
    as_of: datetime | None


class LedgerCheckPublic(BaseModel):
    balanced: bool
    total_debits: int
    total_credits: int
    entries: int
    postings: int
    unbalanced_entries: list[str]
    mismatches: list[str] = Field(description="accounts whose stored balance differs from their postings")
    negative_accounts: list[str]


async def _request(
    clients: ClientsDep, operator: OperatorPrincipal, change: pb.BenefitChange
) -> ChangePublic:
    resp = await clients.benefits.RequestBenefitChange(
        pb.RequestBenefitChangeRequest(change=change, principal=operator_principal(operator))
    )
    return from_proto(ChangePublic, resp.change)


@router.post(
    "/ops/benefits/{benefit_id}/top-ups",
    operation_id="request_budget_top_up",
    summary="Request a budget top-up",
    status_code=status.HTTP_201_CREATED,
)
async def request_top_up(
    benefit_id: Slug, body: TopUp, clients: ClientsDep, operator: Operator
) -> ChangePublic:
    """Ask to raise the total and/or daily budget; another reviewer approves it before it counts."""
    return await _request(
        clients, operator, to_proto(pb.BenefitChange, body, benefit_id=benefit_id, kind="top_up")
    )


@router.post(
    "/ops/benefits/{benefit_id}/extensions",
    operation_id="request_benefit_extension",
    summary="Request a later end date",
    status_code=status.HTTP_201_CREATED,
)
async def request_extension(
    benefit_id: Slug, body: Extension, clients: ClientsDep, operator: Operator
) -> ChangePublic:
    """Ask to move the end date later (lots ending with it live on); another reviewer approves it."""
    return await _request(
        clients, operator, to_proto(pb.BenefitChange, body, benefit_id=benefit_id, kind="extend")
    )


@router.post(
    "/ops/benefits/{benefit_id}/changes/{change_id}/review",
    operation_id="review_benefit_change",
    summary="Approve or reject a top-up or extension",
)
async def review_change(
    benefit_id: Slug, change_id: ChangeId, body: Review, clients: ClientsDep, operator: Reviewer
) -> ReviewedChange:
    """Approve (apply) or reject a top-up or extension; never one's own request or benefit."""
    resp = await clients.benefits.ReviewBenefitChange(
        to_proto(
            pb.ReviewBenefitChangeRequest,
            body,
            benefit_id=benefit_id,
            change_id=change_id,
            principal=operator_principal(operator),
        )
    )
    return ReviewedChange(
        change=from_proto(ChangePublic, resp.change), benefit=from_proto(BenefitPublic, resp.benefit)
    )


@router.get(
    "/ops/benefits/{benefit_id}/changes",
    operation_id="list_benefit_changes",
    summary="List a benefit's top-ups and extensions",
    response_model=BenefitChangePage,
)
async def list_changes(
    benefit_id: Slug,
    clients: ClientsDep,
    operator: Viewer,
    status_: Annotated[Literal["pending", "approved", "rejected"] | None, Query(alias="status")] = None,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> BenefitChangePage:
    """The benefit's top-ups and extensions, oldest request first (reviewers look for the pending ones)."""
    resp = await clients.benefits.ListBenefitChanges(
        pb.ListBenefitChangesRequest(
            benefit_id=benefit_id,
            status=status_ or "",
            principal=operator_principal(operator),
            page_size=page_size,
            page_token=page_token,
        )
    )
    return BenefitChangePage.of([from_proto(ChangePublic, c) for c in resp.changes], resp.next_page_token)


@router.get(
    "/ops/benefits/{benefit_id}/audit",
    operation_id="get_benefit_audit_trail",
    summary="Get a benefit's audit trail",
    response_model=BenefitAuditPage,
)
async def benefit_audit(
    benefit_id: Slug,
    clients: ClientsDep,
    operator: Viewer,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> BenefitAuditPage:
    """Who drafted, reviewed, paused, resumed, stopped or changed the benefit, when and why (oldest first)."""
    resp = await clients.benefits.GetBenefitAudit(
        pb.GetBenefitAuditRequest(
            benefit_id=benefit_id,
            principal=operator_principal(operator),
            page_size=page_size,
            page_token=page_token,
        )
    )
    records = from_protos(AuditPublic, resp.records)
    return BenefitAuditPage.of(records, resp.next_page_token)


@router.get(
    "/ops/benefits-ledger/accounts/{account_id}/balance",
    operation_id="get_ledger_account_balance",
    summary="Get a ledger account's balance",
)
async def account_balance(
    account_id: Account,
    clients: ClientsDep,
    operator: Viewer,
    as_of: Annotated[AwareDatetime | None, Query()] = None,
) -> BalancePublic:
    """An account's balance from the journal as of a time (a branch: accounts of its own benefits)."""
    resp = await clients.benefits.GetAccountBalance(
        pb.GetAccountBalanceRequest(
            account_id=account_id, as_of=to_timestamp(as_of), principal=operator_principal(operator)
        )
    )
    return from_proto(BalancePublic, resp)


@router.get(
    "/ops/benefits-ledger/check",
    operation_id="check_benefits_ledger",
    summary="Check that the benefits ledger balances",
)
async def check_ledger(clients: ClientsDep, operator: Admin) -> LedgerCheckPublic:
    """Prove the benefits ledger balances (head-office admins)."""
    r = await clients.benefits.CheckLedger(pb.CheckLedgerRequest(principal=operator_principal(operator)))
    # the check names the mismatched accounts; their stored and posted sums stay in the service's log
    return from_proto(LedgerCheckPublic, r, mismatches=[m.account_id for m in r.mismatches])


# Last: its `{action}` segment would otherwise shadow the routes above.
@router.post(
    "/ops/benefits/{benefit_id}/{action}",
    operation_id="change_benefit_state",
    summary="Pause, resume or stop a benefit",
    response_model=BenefitPublic,
)
async def change_state(
    benefit_id: Slug,
    action: Literal["pause", "resume", "stop"],
    body: StateChange,
    clients: ClientsDep,
    operator: Operator,
) -> BenefitPublic:
    """Pause, resume or stop (final; the unspent budget returns to the funder) at once, audited."""
    resp = await clients.benefits.ChangeBenefitState(
        to_proto(
            pb.ChangeBenefitStateRequest,
            body,
            benefit_id=benefit_id,
            action=action,
            principal=operator_principal(operator),
        )
    )
    return from_proto(BenefitPublic, resp.benefit)
