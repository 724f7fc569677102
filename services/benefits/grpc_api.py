"""BenefitsService over gRPC: protobuf <-> domain; domain errors are mapped by the runtime interceptor."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TypeVar

from lattice.benefits.v1 import benefits_pb2 as pb
from lattice.benefits.v1 import benefits_pb2_grpc

from services.benefits import catalogue, lifecycle, redemptions, wallet
from services.benefits.config import BenefitsSettings
from services.benefits.convert import (
    benefit_from_pb,
    benefit_to_pb,
    context_from_pb,
    grant_to_pb,
    redemption_to_pb,
    target_from_pb,
)
from services.benefits.ledger import check_ledger
from services.runtime.clock import from_timestamp
from services.runtime.errors import InvalidInput
from services.runtime.service import ServiceContext

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PAGE = 100


def _require(value: str, name: str) -> None:
    if not value or len(value) > 64:
        raise InvalidInput(f"invalid_{name}", f"{name} is required (at most 64 chars)")


class BenefitsApi(benefits_pb2_grpc.BenefitsServiceServicer):
    def __init__(self, ctx: ServiceContext, settings: BenefitsSettings) -> None:
        self._ctx = ctx
        self._engine = ctx.engine
        self._limits = settings.risk_limits()
        self._kill_after_commit = (
            settings.fault_kill_after_commit and ctx.settings.environment != "production"
        )

    async def _write(self, fn: Callable[..., tuple[T, bool]], **kwargs: object) -> T:
        """Run an idempotent write off the event loop, then wake the outbox relay."""
        result, replayed = await asyncio.to_thread(fn, engine=self._engine, **kwargs)
        if self._kill_after_commit and not replayed:
            logger.warning("fault injection: exiting after commit, before the response")
            os._exit(137)
        self._ctx.relay.notify()
        return result

    async def CreateBenefit(self, request: pb.CreateBenefitRequest, context) -> pb.CreateBenefitResponse:  # type: ignore[no-untyped-def]
        _require(request.operator_id, "operator_id")
        benefit = benefit_from_pb(request.benefit, operator_id=request.operator_id)
        created = await asyncio.to_thread(catalogue.create_benefit, engine=self._engine, benefit=benefit)
        return pb.CreateBenefitResponse(benefit=benefit_to_pb(created, 0))

    async def ReviewBenefit(self, request: pb.ReviewBenefitRequest, context) -> pb.ReviewBenefitResponse:  # type: ignore[no-untyped-def]
        _require(request.reviewer_id, "reviewer_id")
        benefit = await asyncio.to_thread(
            catalogue.review_benefit,
            engine=self._engine,
            benefit_id=request.benefit_id,
            reviewer_id=request.reviewer_id,
            approve=request.approve,
            note=request.note[:500],
        )
        return pb.ReviewBenefitResponse(
            benefit=benefit_to_pb(benefit, benefit.total_budget if request.approve else 0)
        )

    async def GetBenefit(self, request: pb.GetBenefitRequest, context) -> pb.GetBenefitResponse:  # type: ignore[no-untyped-def]
        benefit, left = await asyncio.to_thread(
            catalogue.get_benefit, engine=self._engine, benefit_id=request.benefit_id
        )
        return pb.GetBenefitResponse(benefit=benefit_to_pb(benefit, left))

    async def ListBenefits(self, request: pb.ListBenefitsRequest, context) -> pb.ListBenefitsResponse:  # type: ignore[no-untyped-def]
        size = min(request.page_size or 50, MAX_PAGE)
        rows = await asyncio.to_thread(
            catalogue.list_benefits,
            engine=self._engine,
            status=request.status,
            branch=request.branch,
            limit=size + 1,
            after=request.page_token,
        )
        token = rows[size - 1][0].benefit_id if len(rows) > size else ""
        return pb.ListBenefitsResponse(
            benefits=[benefit_to_pb(b, left) for b, left in rows[:size]], next_page_token=token
        )

    async def GrantBenefit(self, request: pb.GrantBenefitRequest, context) -> pb.GrantBenefitResponse:  # type: ignore[no-untyped-def]
        _require(request.customer_id, "customer_id")
        grant = await self._write(
            wallet.grant_benefit,
            customer_id=request.customer_id,
            benefit_id=request.benefit_id,
            idempotency_key=request.idempotency_key,
            channel=request.channel or "claim",
            limits=self._limits,
            context=context_from_pb(request.context, app_id=request.app_id, device_id=request.device_id),
        )
        return pb.GrantBenefitResponse(grant=grant_to_pb(grant))

    async def RevokeGrant(self, request: pb.RevokeGrantRequest, context) -> pb.RevokeGrantResponse:  # type: ignore[no-untyped-def]
        _require(request.operator_id, "operator_id")
        grant = await asyncio.to_thread(
            wallet.revoke_grant,
            engine=self._engine,
            grant_id=request.grant_id,
            operator_id=request.operator_id,
            idempotency_key=request.idempotency_key,
        )
        return pb.RevokeGrantResponse(grant=grant_to_pb(grant))

    async def GetWallet(self, request: pb.GetWalletRequest, context) -> pb.GetWalletResponse:  # type: ignore[no-untyped-def]
        _require(request.customer_id, "customer_id")
        view = await asyncio.to_thread(
            wallet.get_wallet,
            engine=self._engine,
            customer_id=request.customer_id,
            context=context_from_pb(request.context),
            only_usable_here=request.only_usable_here,
            include_inactive=request.include_inactive,
        )
        return pb.GetWalletResponse(
            grants=[grant_to_pb(g) for g in view.grants],
            points=[pb.PointsBalance(**p.model_dump()) for p in view.points],
        )

    async def ReserveBenefit(self, request: pb.ReserveBenefitRequest, context) -> pb.ReserveBenefitResponse:  # type: ignore[no-untyped-def]
        _require(request.target.customer_id, "customer_id")
        view = await self._write(
            redemptions.reserve_benefit,
            target=target_from_pb(request.target),
            ttl_s=request.ttl_seconds or 300,
            idempotency_key=request.target.idempotency_key,
            limits=self._limits,
        )
        return pb.ReserveBenefitResponse(redemption=redemption_to_pb(view))

    async def ConfirmRedemption(
        self, request: pb.ConfirmRedemptionRequest, context
    ) -> pb.ConfirmRedemptionResponse:  # type: ignore[no-untyped-def]
        _require(request.customer_id, "customer_id")
        view = await self._write(
            redemptions.confirm_redemption,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
            idempotency_key=request.idempotency_key,
        )
        return pb.ConfirmRedemptionResponse(redemption=redemption_to_pb(view))

    async def CancelRedemption(
        self, request: pb.CancelRedemptionRequest, context
    ) -> pb.CancelRedemptionResponse:  # type: ignore[no-untyped-def]
        _require(request.customer_id, "customer_id")
        view = await self._write(
            redemptions.cancel_redemption,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
            idempotency_key=request.idempotency_key,
        )
        return pb.CancelRedemptionResponse(redemption=redemption_to_pb(view))

    async def RedeemBenefit(self, request: pb.RedeemBenefitRequest, context) -> pb.RedeemBenefitResponse:  # type: ignore[no-untyped-def]
        _require(request.target.customer_id, "customer_id")
        view = await self._write(
            redemptions.redeem_benefit,
            target=target_from_pb(request.target),
            idempotency_key=request.target.idempotency_key,
            limits=self._limits,
        )
        return pb.RedeemBenefitResponse(redemption=redemption_to_pb(view))

    async def RefundRedemption(
        self, request: pb.RefundRedemptionRequest, context
    ) -> pb.RefundRedemptionResponse:  # type: ignore[no-untyped-def]
        _require(request.customer_id, "customer_id")
        view = await self._write(
            redemptions.refund_redemption,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
            amount=request.amount,
            ratio_bps=request.ratio_bps,
            idempotency_key=request.idempotency_key,
        )
        return pb.RefundRedemptionResponse(redemption=redemption_to_pb(view), refunded_now=view.refunded_now)

    async def GetRedemption(self, request: pb.GetRedemptionRequest, context) -> pb.GetRedemptionResponse:  # type: ignore[no-untyped-def]
        view = await asyncio.to_thread(
            redemptions.get_redemption,
            engine=self._engine,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
        )
        return pb.GetRedemptionResponse(redemption=redemption_to_pb(view))

    async def ExpireDue(self, request: pb.ExpireDueRequest, context) -> pb.ExpireDueResponse:  # type: ignore[no-untyped-def]
        expired, released = await asyncio.to_thread(lifecycle.expire_due, engine=self._engine)
        self._ctx.relay.notify()
        return pb.ExpireDueResponse(expired_grants=expired, released_holds=released)

    async def CheckLedger(self, request: pb.CheckLedgerRequest, context) -> pb.CheckLedgerResponse:  # type: ignore[no-untyped-def]
        report = await asyncio.to_thread(
            check_ledger, engine=self._engine, as_of=from_timestamp(request.as_of)
        )
        return pb.CheckLedgerResponse(
            balanced=report.balanced,
            total_debits=report.total_debits,
            total_credits=report.total_credits,
            entries=report.entries,
            postings=report.postings,
            unbalanced_entries=report.unbalanced_entries,
            mismatches=[
                pb.AccountMismatch(account_id=a, stored=s, from_postings=d) for a, s, d in report.mismatches
            ],
            negative_accounts=report.negative_accounts,
        )
