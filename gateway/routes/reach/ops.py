"""Reach routes for operations staff: strategies and their lifecycle, dry runs, reviews, the policy."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from lattice.reach.v1 import reach_pb2 as pb
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.problems import Problem
from gateway.routes.reach.public import (
    DeliveryPage,
    DeliveryPublic,
    DryRunPublic,
    PolicyInForcePublic,
    PolicyProposalPublic,
    StrategyPage,
    StrategyPublic,
    StrategyReviewPublic,
    StrategyRevisionPublic,
    StrategyRevisions,
    policy_public,
    review_public,
)
from gateway.routes.reach.schemas import (
    PolicyProposalCreate,
    StrategyCreate,
    StrategyUpdate,
    actor_pb,
)
from gateway.routes.sorting import sort_query, token_query
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

router = APIRouter(prefix="/v1", tags=["reach"])
Viewer = Annotated[OperatorPrincipal, require_role("viewer")]
Operator = Annotated[OperatorPrincipal, require_role("operator")]
Reviewer = Annotated[OperatorPrincipal, require_role("reviewer")]
Admin = Annotated[OperatorPrincipal, require_role("admin")]
OPS = "/ops/reach"
StrategyId = Annotated[str, Path(max_length=36)]


@router.post(
    f"{OPS}/strategies",
    operation_id="create_strategy",
    summary="Create a reach strategy",
    status_code=status.HTTP_201_CREATED,
)
async def create_strategy(body: StrategyCreate, clients: ClientsDep, operator: Operator) -> StrategyPublic:
    """Draft a 4W1Do strategy (who, when, where, what, do); it runs once another operator approves it."""
    resp = await clients.reach.CreateStrategy(
        pb.CreateStrategyRequest(actor=actor_pb(operator), spec=to_proto(pb.StrategySpec, body))
    )
    return from_proto(StrategyPublic, resp.strategy)


@router.get(f"{OPS}/strategies", operation_id="list_strategies", summary="List reach strategies")
async def list_strategies(
    clients: ClientsDep,
    operator: Viewer,
    status_: Annotated[
        Literal["", "draft", "approved", "active", "paused", "ended", "rejected"], Query(alias="status")
    ] = "",
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, token_query()] = "",
    sort: Annotated[str, sort_query("strategy_id", "name", "status", "created_at", "updated_at")] = "",
) -> StrategyPage:
    """Strategies in the operator's scope with their state and version, by id or `sort`."""
    resp = await clients.reach.ListStrategies(
        pb.ListStrategiesRequest(
            actor=actor_pb(operator), status=status_, page_size=page_size, page_token=page_token, sort=sort
        )
    )
    return StrategyPage.of(from_protos(StrategyPublic, resp.strategies), resp.next_page_token)


@router.get(f"{OPS}/strategies/{{strategy_id}}", operation_id="get_strategy", summary="Get a reach strategy")
async def get_strategy(strategy_id: StrategyId, clients: ClientsDep, operator: Viewer) -> StrategyPublic:
    """One strategy with its current version; 404 for another branch's strategy."""
    resp = await clients.reach.GetStrategy(
        pb.GetStrategyRequest(actor=actor_pb(operator), strategy_id=strategy_id)
    )
    return from_proto(StrategyPublic, resp.strategy)


@router.put(
    f"{OPS}/strategies/{{strategy_id}}", operation_id="update_strategy", summary="Edit a reach strategy"
)
async def update_strategy(
    strategy_id: StrategyId,
    body: StrategyUpdate,
    clients: ClientsDep,
    operator: Operator,
) -> StrategyPublic:
    """Edit a draft, approved, paused or rejected strategy; it goes back to draft for a new approval."""
    resp = await clients.reach.UpdateStrategy(
        to_proto(
            pb.UpdateStrategyRequest,
            body,
            actor=actor_pb(operator),
            strategy_id=strategy_id,
            spec=to_proto(pb.StrategySpec, body),
        )
    )
    return from_proto(StrategyPublic, resp.strategy)


@router.get(
    f"{OPS}/strategies/{{strategy_id}}/revisions",
    operation_id="list_strategy_revisions",
    summary="List a strategy's versions",
)
async def list_revisions(strategy_id: StrategyId, clients: ClientsDep, operator: Viewer) -> StrategyRevisions:
    """Every version of the strategy: who authored, edited and approved it."""
    resp = await clients.reach.ListStrategyRevisions(
        pb.ListStrategyRevisionsRequest(actor=actor_pb(operator), strategy_id=strategy_id)
    )
    return StrategyRevisions(items=from_protos(StrategyRevisionPublic, resp.revisions))


async def _change(
    clients: ClientsDep, operator: OperatorPrincipal, strategy_id: str, rpc: str, reason: str = ""
) -> StrategyPublic:
    call, request = getattr(clients.reach, rpc), getattr(pb, f"{rpc}Request")  # each RPC its own message
    resp = await call(request(actor=actor_pb(operator), strategy_id=strategy_id, reason=reason))
    return from_proto(StrategyPublic, resp.strategy)


class StrategyRejection(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "the control group is too small to measure uplift"}]},
    )

    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")] = Field(
        description="why the draft goes back to its writers (kept in its revision and the audit trail)"
    )


@router.post(
    f"{OPS}/strategies/{{strategy_id}}/approve",
    operation_id="approve_strategy",
    summary="Approve a reach strategy",
)
async def approve_strategy(
    strategy_id: StrategyId, clients: ClientsDep, operator: Reviewer
) -> StrategyPublic:
    """Four eyes: nobody approves a version they authored or edited (403 own_work)."""
    return await _change(clients, operator, strategy_id, "ApproveStrategy")


@router.post(
    f"{OPS}/strategies/{{strategy_id}}/reject",
    operation_id="reject_strategy",
    summary="Reject a reach strategy in review",
)
async def reject_strategy(
    strategy_id: StrategyId, body: StrategyRejection, clients: ClientsDep, operator: Reviewer
) -> StrategyPublic:
    """Send the draft back to its writers with a reason (status `rejected`; their next edit makes it a
    draft again). Four eyes: nobody rejects a version they authored or edited (403 own_work)."""
    return await _change(clients, operator, strategy_id, "RejectStrategy", reason=body.reason)


@router.post(
    f"{OPS}/strategies/{{strategy_id}}/dry-run",
    operation_id="dry_run_strategy",
    summary="Dry-run a reach strategy",
)
async def dry_run(strategy_id: StrategyId, clients: ClientsDep, operator: Operator) -> DryRunPublic:
    """Audience size per touchpoint as the engine would route it now; sends nothing."""
    resp = await clients.reach.DryRunStrategy(
        pb.DryRunStrategyRequest(actor=actor_pb(operator), strategy_id=strategy_id)
    )
    return from_proto(DryRunPublic, resp)


@router.post(
    f"{OPS}/strategies/{{strategy_id}}/{{action}}",
    operation_id="change_strategy_state",
    summary="Activate, pause or end a strategy",
)
async def change_strategy(
    strategy_id: StrategyId,
    action: Literal["activate", "pause", "end"],
    clients: ClientsDep,
    operator: Operator,
) -> StrategyPublic:
    """Activate an approved strategy, pause a running one or end it for good."""
    return await _change(clients, operator, strategy_id, f"{action.capitalize()}Strategy")


@router.get(
    f"{OPS}/strategies/{{strategy_id}}/review",
    operation_id="review_strategy_results",
    summary="Review a strategy's results",
)
async def review_strategy(
    strategy_id: StrategyId,
    start: Annotated[AwareDatetime, Query(alias="from")],
    clients: ClientsDep,
    operator: Viewer,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> StrategyReviewPublic:
    """復盤: sent, suppressed by reason, delivered, opened, and uplift over control with its 95% interval.

    Without customers in both groups (no control group held out) the uplift is not measurable:
    `measurable` is false and `uplift`, `uplift_ci_low` and `uplift_ci_high` are null."""
    period = {"from": start, "to": end}  # `from` is a Python keyword: the window goes as a mapping
    request = to_proto(pb.GetStrategyReviewRequest, period, actor=actor_pb(operator), strategy_id=strategy_id)
    return review_public(await clients.reach.GetStrategyReview(request))


@router.get(
    f"{OPS}/strategies/{{strategy_id}}/deliveries",
    operation_id="list_strategy_deliveries",
    summary="List a strategy's deliveries",
)
async def list_deliveries(
    strategy_id: StrategyId,
    clients: ClientsDep,
    operator: Viewer,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, Query(max_length=36)] = "",
) -> DeliveryPage:
    """The messages the strategy sent or suppressed, newest first, a page at a time."""
    resp = await clients.reach.ListDeliveries(
        pb.ListDeliveriesRequest(
            actor=actor_pb(operator), strategy_id=strategy_id, page_size=page_size, page_token=page_token
        )
    )
    return DeliveryPage.of(from_protos(DeliveryPublic, resp.deliveries), resp.next_page_token)


@router.get(f"{OPS}/policy", operation_id="get_reach_policy", summary="Get the bank-wide reach policy")
async def get_policy(clients: ClientsDep, operator: Viewer) -> PolicyInForcePublic:
    """The bank-wide policy in force, and the change waiting for approval (null when none)."""
    resp = await clients.reach.GetDeliveryPolicy(pb.GetDeliveryPolicyRequest())
    return policy_public(resp)


def _head_office(operator: OperatorPrincipal) -> None:
    if not operator.head_office:
        raise Problem(403, "head_office_only", "only head office changes the delivery policy")


@router.put(
    f"{OPS}/policy",
    operation_id="propose_reach_policy",
    summary="Propose a reach policy change",
    status_code=status.HTTP_202_ACCEPTED,
)
async def propose_policy(
    body: PolicyProposalCreate, clients: ClientsDep, operator: Admin
) -> PolicyProposalPublic:
    """Propose caps, contact budget and quiet hours; in force once another head-office admin approves."""
    _head_office(operator)
    resp = await clients.reach.ProposeDeliveryPolicy(
        pb.ProposeDeliveryPolicyRequest(actor=actor_pb(operator), policy=to_proto(pb.DeliveryPolicy, body))
    )
    return from_proto(PolicyProposalPublic, resp.proposal)


@router.post(
    f"{OPS}/policy/proposals/{{proposal_id}}/approve",
    operation_id="approve_reach_policy",
    summary="Approve a reach policy change",
)
async def approve_policy(
    proposal_id: Annotated[str, Path(max_length=36)], clients: ClientsDep, operator: Admin
) -> PolicyProposalPublic:
    """Four eyes: the proposer cannot approve their own change."""
    _head_office(operator)
    resp = await clients.reach.ApproveDeliveryPolicy(
        pb.ApproveDeliveryPolicyRequest(actor=actor_pb(operator), proposal_id=proposal_id)
    )
    return from_proto(PolicyProposalPublic, resp.proposal)
