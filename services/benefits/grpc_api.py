"""BenefitsService over gRPC: protobuf <-> domain; domain errors are mapped by the runtime interceptor."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from lattice.benefits.v1 import benefits_pb2 as pb
from lattice.benefits.v1 import benefits_pb2_grpc

from services.benefits import lifecycle, redemptions, wallet
from services.benefits.config import BenefitsSettings
from services.benefits.convert import context_from_pb, target_from_pb
from services.benefits.grpc_ops import CatalogueRpcs
from services.benefits.principals import Principal
from services.runtime.errors import InvalidInput
from services.runtime.proto_mapping import from_proto, to_proto
from services.runtime.service import ServiceContext

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _require(value: str, name: str) -> None:
    if not value or len(value) > 64:
        raise InvalidInput(f"invalid_{name}", f"{name} is required (at most 64 chars)")


class BenefitsApi(CatalogueRpcs, benefits_pb2_grpc.BenefitsServiceServicer):
    def __init__(self, ctx: ServiceContext, settings: BenefitsSettings) -> None:
        self._ctx = ctx
        self._engine = ctx.engine
        self._limits = settings.risk_limits()
        # Writes wait on their group's commit (SQLite) or their transaction: their own threads, more
        # than the loop's default executor (CPUs + 4), so that more of them share one commit.
        self._writers = ThreadPoolExecutor(
            max_workers=settings.write_threads, thread_name_prefix="benefits-write"
        )
        self._kill_after_commit = (
            settings.fault_kill_after_commit and ctx.settings.environment != "production"
        )

    async def _write(self, fn: Callable[..., tuple[T, bool]], **kwargs: object) -> T:
        """Run an idempotent write off the event loop, then wake the outbox relay."""
        call = functools.partial(fn, engine=self._engine, **kwargs)
        context = contextvars.copy_context()  # the request's deadline and trace, as asyncio.to_thread
        result, replayed = await asyncio.get_running_loop().run_in_executor(
            self._writers, functools.partial(context.run, call)
        )
        if self._kill_after_commit and not replayed:
            logger.warning("fault injection: exiting after commit, before the response")
            os._exit(137)
        return result

    async def GrantBenefit(self, request: pb.GrantBenefitRequest, context) -> pb.GrantBenefitResponse:
        _require(request.customer_id, "customer_id")
        grant = await self._write(
            wallet.grant_benefit,
            customer_id=request.customer_id,
            benefit_id=request.benefit_id,
            idempotency_key=request.idempotency_key,
            channel=request.channel or "claim",
            limits=self._limits,
            context=context_from_pb(request.context, app_id=request.app_id, device_id=request.device_id),
            by=from_proto(Principal, request.principal),
        )
        return pb.GrantBenefitResponse(grant=to_proto(pb.Grant, grant))

    async def GetWallet(self, request: pb.GetWalletRequest, context) -> pb.GetWalletResponse:
        _require(request.customer_id, "customer_id")
        view = await asyncio.to_thread(
            wallet.get_wallet,
            engine=self._engine,
            customer_id=request.customer_id,
            context=context_from_pb(request.context),
            only_usable_here=request.only_usable_here,
            include_inactive=request.include_inactive,
        )
        return to_proto(pb.GetWalletResponse, view)

    async def ReserveBenefit(self, request: pb.ReserveBenefitRequest, context) -> pb.ReserveBenefitResponse:
        _require(request.target.customer_id, "customer_id")
        view = await self._write(
            redemptions.reserve_benefit,
            target=target_from_pb(request.target),
            ttl_s=request.ttl_seconds or 300,
            idempotency_key=request.target.idempotency_key,
            limits=self._limits,
        )
        return pb.ReserveBenefitResponse(redemption=to_proto(pb.Redemption, view))

    async def ConfirmRedemption(
        self, request: pb.ConfirmRedemptionRequest, context
    ) -> pb.ConfirmRedemptionResponse:
        _require(request.customer_id, "customer_id")
        view = await self._write(
            redemptions.confirm_redemption,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
            by=from_proto(Principal, request.principal),
            idempotency_key=request.idempotency_key,
        )
        return pb.ConfirmRedemptionResponse(redemption=to_proto(pb.Redemption, view))

    async def CancelRedemption(
        self, request: pb.CancelRedemptionRequest, context
    ) -> pb.CancelRedemptionResponse:
        _require(request.customer_id, "customer_id")
        view = await self._write(
            redemptions.cancel_redemption,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
            by=from_proto(Principal, request.principal),
            idempotency_key=request.idempotency_key,
        )
        return pb.CancelRedemptionResponse(redemption=to_proto(pb.Redemption, view))

    async def RedeemBenefit(self, request: pb.RedeemBenefitRequest, context) -> pb.RedeemBenefitResponse:
        _require(request.target.customer_id, "customer_id")
        view = await self._write(
            redemptions.redeem_benefit,
            target=target_from_pb(request.target),
            idempotency_key=request.target.idempotency_key,
            limits=self._limits,
        )
        return pb.RedeemBenefitResponse(redemption=to_proto(pb.Redemption, view))

    async def RefundRedemption(
        self, request: pb.RefundRedemptionRequest, context
    ) -> pb.RefundRedemptionResponse:
        _require(request.customer_id, "customer_id")
        view = await self._write(
            redemptions.refund_redemption,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
            by=from_proto(Principal, request.principal),
            amount=request.amount,
            ratio_bps=request.ratio_bps,
            idempotency_key=request.idempotency_key,
        )
        return pb.RefundRedemptionResponse(
            redemption=to_proto(pb.Redemption, view), refunded_now=view.refunded_now
        )

    async def GetRedemption(self, request: pb.GetRedemptionRequest, context) -> pb.GetRedemptionResponse:
        view = await asyncio.to_thread(
            redemptions.get_redemption,
            engine=self._engine,
            redemption_id=request.redemption_id,
            customer_id=request.customer_id,
            by=from_proto(Principal, request.principal),
        )
        return pb.GetRedemptionResponse(redemption=to_proto(pb.Redemption, view))

    async def ExpireDue(self, request: pb.ExpireDueRequest, context) -> pb.ExpireDueResponse:
        expired, released = await asyncio.to_thread(lifecycle.expire_due, engine=self._engine)
        return pb.ExpireDueResponse(expired_grants=expired, released_holds=released)
