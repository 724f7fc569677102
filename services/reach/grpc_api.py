"""ReachService over gRPC: protobuf <-> domain; errors are mapped by the runtime interceptor."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from lattice.reach.v1 import reach_pb2 as pb
from lattice.reach.v1 import reach_pb2_grpc

from services.reach import inbox, policy, policy_changes, receipts, review, strategies
from services.reach.convert import (
    actor_from_pb,
    policy_from_pb,
    proposal_to_pb,
    revision_to_pb,
    spec_from_pb,
    strategy_to_pb,
)
from services.reach.engine import ReachEngine
from services.runtime.clock import from_timestamp, utcnow
from services.runtime.errors import InvalidInput
from services.runtime.proto_mapping import from_proto, to_proto
from services.runtime.service import ServiceContext
from services.runtime.sorting import start_of

MAX_PAGE = 100


def _page(size: int) -> int:
    return min(size or 50, MAX_PAGE)


def _group(outcome: review.GroupOutcome) -> pb.GroupOutcome:
    return to_proto(pb.GroupOutcome, outcome, conversion_rate=outcome.rate)


def _customer(customer_id: str) -> str:
    if not customer_id:
        raise InvalidInput("customer_required", "the customer is required")
    return customer_id


# A strategy's status changes: one request and one response message per RPC, the same fields.
StatusChange = (
    pb.ApproveStrategyRequest
    | pb.RejectStrategyRequest
    | pb.ActivateStrategyRequest
    | pb.PauseStrategyRequest
    | pb.EndStrategyRequest
)
StatusChanged = TypeVar(
    "StatusChanged",
    pb.ApproveStrategyResponse,
    pb.RejectStrategyResponse,
    pb.ActivateStrategyResponse,
    pb.PauseStrategyResponse,
    pb.EndStrategyResponse,
)


class ReachApi(reach_pb2_grpc.ReachServiceServicer):
    def __init__(self, ctx: ServiceContext, reach: ReachEngine) -> None:
        self._ctx = ctx
        self._engine = ctx.engine
        self._reach = reach

    async def CreateStrategy(self, request: pb.CreateStrategyRequest, context) -> pb.CreateStrategyResponse:
        s = await asyncio.to_thread(
            strategies.create_strategy,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            spec_data=spec_from_pb(request.spec),
        )
        return pb.CreateStrategyResponse(strategy=strategy_to_pb(s))

    async def UpdateStrategy(self, request: pb.UpdateStrategyRequest, context) -> pb.UpdateStrategyResponse:
        s = await asyncio.to_thread(
            strategies.update_strategy,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            strategy_id=request.strategy_id,
            spec_data=spec_from_pb(request.spec),
            expected_version=request.expected_version,
        )
        return pb.UpdateStrategyResponse(strategy=strategy_to_pb(s))

    async def GetStrategy(self, request: pb.GetStrategyRequest, context) -> pb.GetStrategyResponse:
        s = await asyncio.to_thread(
            strategies.get_strategy,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            strategy_id=request.strategy_id,
        )
        return pb.GetStrategyResponse(strategy=strategy_to_pb(s))

    async def ListStrategies(self, request: pb.ListStrategiesRequest, context) -> pb.ListStrategiesResponse:
        if request.count_only:
            total = await asyncio.to_thread(
                strategies.count_strategies,
                engine=self._engine,
                actor=actor_from_pb(request.actor),
                status=request.status,
            )
            return pb.ListStrategiesResponse(total=total)
        size = _page(request.page_size)
        found = await asyncio.to_thread(
            strategies.list_strategies,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            status=request.status,
            limit=size + 1,
            after=request.page_token,
            sort=request.sort,
            start=start_of(request.after_time, request.after_id),
        )
        token = strategies.STRATEGY_ORDER.next_token(found, size, sort=request.sort)
        return pb.ListStrategiesResponse(
            strategies=[strategy_to_pb(s) for s in found[:size]], next_page_token=token
        )

    async def ListStrategyRevisions(
        self, request: pb.ListStrategyRevisionsRequest, context
    ) -> pb.ListStrategyRevisionsResponse:
        found = await asyncio.to_thread(
            strategies.list_revisions,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            strategy_id=request.strategy_id,
        )
        return pb.ListStrategyRevisionsResponse(revisions=[revision_to_pb(r) for r in found])

    async def _change(self, request: StatusChange, action: str, reply: type[StatusChanged]) -> StatusChanged:
        s = await asyncio.to_thread(
            strategies.change_status,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            strategy_id=request.strategy_id,
            action=action,
            reason=request.reason,
        )
        return reply(strategy=strategy_to_pb(s))

    async def ApproveStrategy(self, request, context) -> pb.ApproveStrategyResponse:
        return await self._change(request, "approve", pb.ApproveStrategyResponse)

    async def RejectStrategy(self, request, context) -> pb.RejectStrategyResponse:
        return await self._change(request, "reject", pb.RejectStrategyResponse)

    async def ActivateStrategy(self, request, context) -> pb.ActivateStrategyResponse:
        return await self._change(request, "activate", pb.ActivateStrategyResponse)

    async def PauseStrategy(self, request, context) -> pb.PauseStrategyResponse:
        return await self._change(request, "pause", pb.PauseStrategyResponse)

    async def EndStrategy(self, request, context) -> pb.EndStrategyResponse:
        return await self._change(request, "end", pb.EndStrategyResponse)

    async def DryRunStrategy(self, request: pb.DryRunStrategyRequest, context) -> pb.DryRunStrategyResponse:
        result = await asyncio.to_thread(
            review.dry_run,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            strategy_id=request.strategy_id,
            now=utcnow(),
        )
        return to_proto(
            pb.DryRunStrategyResponse,
            result,
            touchpoints=[{"channel": c, "customers": n} for c, n in sorted(result.touchpoints.items())],
        )

    async def GetStrategyReview(
        self, request: pb.GetStrategyReviewRequest, context
    ) -> pb.GetStrategyReviewResponse:
        end = from_timestamp(request.to) or utcnow()
        start = from_timestamp(getattr(request, "from"))
        if start is None:
            raise InvalidInput("invalid_window", "the window's start is required")
        r = await asyncio.to_thread(
            review.review,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            strategy_id=request.strategy_id,
            start=start,
            end=end,
        )
        low, high = r.uplift_interval()
        return to_proto(
            pb.GetStrategyReviewResponse,
            r,
            suppressed=[{"reason": k, "count": v} for k, v in sorted(r.suppressed.items())],
            treatment=_group(r.treatment),
            control=_group(r.control),
            uplift_ci_low=low,
            uplift_ci_high=high,
        )

    async def ListDeliveries(self, request: pb.ListDeliveriesRequest, context) -> pb.ListDeliveriesResponse:
        size = _page(request.page_size)
        found = await asyncio.to_thread(
            review.list_deliveries,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            strategy_id=request.strategy_id,
            limit=size + 1,
            after=request.page_token,
        )
        token = found[size - 1].delivery_id if len(found) > size else ""
        return pb.ListDeliveriesResponse(
            deliveries=[to_proto(pb.Delivery, d) for d in found[:size]], next_page_token=token
        )

    async def RecordReceipts(self, request: pb.RecordReceiptsRequest, context) -> pb.RecordReceiptsResponse:
        now = utcnow()
        found = [
            from_proto(receipts.Receipt, r, occurred_at=from_timestamp(r.occurred_at) or now)
            for r in request.receipts
        ]
        outcome = await asyncio.to_thread(
            receipts.record_receipts, engine=self._engine, channel=request.channel, receipts=found, now=now
        )
        return pb.RecordReceiptsResponse(
            applied=outcome.applied, unchanged=outcome.unchanged, unknown=outcome.unknown
        )

    async def GetDeliveryPolicy(self, request, context) -> pb.GetDeliveryPolicyResponse:
        found = await asyncio.to_thread(policy.get_policy, engine=self._engine)
        pending = await asyncio.to_thread(policy_changes.pending_proposal, engine=self._engine)
        return pb.GetDeliveryPolicyResponse(
            policy=to_proto(pb.DeliveryPolicy, found), pending=proposal_to_pb(pending) if pending else None
        )

    async def ProposeDeliveryPolicy(
        self, request: pb.ProposeDeliveryPolicyRequest, context
    ) -> pb.ProposeDeliveryPolicyResponse:
        proposal = await asyncio.to_thread(
            policy_changes.propose,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            data=policy_from_pb(request.policy),
        )
        return pb.ProposeDeliveryPolicyResponse(proposal=proposal_to_pb(proposal))

    async def ApproveDeliveryPolicy(
        self, request: pb.ApproveDeliveryPolicyRequest, context
    ) -> pb.ApproveDeliveryPolicyResponse:
        proposal = await asyncio.to_thread(
            policy_changes.approve,
            engine=self._engine,
            actor=actor_from_pb(request.actor),
            proposal_id=request.proposal_id,
        )
        return pb.ApproveDeliveryPolicyResponse(proposal=proposal_to_pb(proposal))

    async def ListContactPreferences(self, request, context) -> pb.ListContactPreferencesResponse:
        found = await asyncio.to_thread(
            policy.list_preferences, engine=self._engine, customer_id=_customer(request.customer_id)
        )
        return pb.ListContactPreferencesResponse(
            preferences=[to_proto(pb.ContactPreference, p) for p in found]
        )

    async def SetContactPreference(
        self, request: pb.SetContactPreferenceRequest, context
    ) -> pb.SetContactPreferenceResponse:
        p = request.preference
        found = await asyncio.to_thread(
            policy.set_preference,
            engine=self._engine,
            customer_id=_customer(request.customer_id),
            channel=p.channel,
            purpose=p.purpose,
            opted_in=p.opted_in,
            app_id=request.app_id,
        )
        return pb.SetContactPreferenceResponse(preferences=[to_proto(pb.ContactPreference, x) for x in found])

    async def ListInboxMessages(
        self, request: pb.ListInboxMessagesRequest, context
    ) -> pb.ListInboxMessagesResponse:
        size = _page(request.page_size)
        found, unread = await asyncio.to_thread(
            inbox.list_messages,
            engine=self._engine,
            customer_id=_customer(request.customer_id),
            app_id=request.app_id,
            unread_only=request.unread_only,
            limit=size + 1,
            before=request.page_token,
        )
        token = found[size - 1].message_id if len(found) > size else ""
        return pb.ListInboxMessagesResponse(
            messages=[to_proto(pb.InboxMessage, m) for m in found[:size]],
            next_page_token=token,
            unread=unread,
        )

    async def MarkInboxMessageRead(
        self, request: pb.MarkInboxMessageReadRequest, context
    ) -> pb.MarkInboxMessageReadResponse:
        message = await asyncio.to_thread(
            inbox.mark_read,
            engine=self._engine,
            customer_id=_customer(request.customer_id),
            app_id=request.app_id,
            message_id=request.message_id,
        )
        return pb.MarkInboxMessageReadResponse(message=to_proto(pb.InboxMessage, message))
