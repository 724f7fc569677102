"""Sibling apps: the signed-in customer's shared wallet, claims and redemptions."""

from __future__ import annotations

from fastapi import APIRouter, status
from lattice.benefits.v1 import benefits_pb2 as pb

from gateway.auth import CustomerDep
from gateway.clients import ClientsDep
from gateway.customer_attributes import CustomerAttributesDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.problems import Problem
from gateway.routes.benefits.calls import (
    caller_key,
    customer_principal,
    refund_use,
    settle_hold,
    use_benefit,
)
from gateway.routes.benefits.schemas import (
    Claim,
    GrantPublic,
    RedemptionId,
    RedemptionPublic,
    Refund,
    Settle,
    Slug,
    Use,
    WalletPublic,
)
from services.runtime.editions import served_edition
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1", tags=["benefits"])


def app_context(customer: CustomerDep, app_id: str, device_id: str | None = None) -> pb.UsageContext:
    if app_id != customer.app_id:
        raise Problem(403, "wrong_app", "the token was issued for another app")
    return pb.UsageContext(app_id=app_id, assurance_level=customer.assurance_level, device_id=device_id or "")


@router.get(
    "/apps/{app_id}/wallet",
    operation_id="get_my_wallet",
    summary="Get the customer's benefits wallet",
    response_model=WalletPublic,
)
async def app_wallet(app_id: Slug, customer: CustomerDep, clients: ClientsDep) -> WalletPublic:
    """The customer's shared wallet as seen from this app."""
    resp = await clients.benefits.GetWallet(
        pb.GetWalletRequest(customer_id=customer.customer_id, context=app_context(customer, app_id))
    )
    return from_proto(WalletPublic, resp)


@router.post(
    "/apps/{app_id}/grants",
    operation_id="claim_benefit",
    summary="Claim a benefit into the wallet",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantPublic,
)
async def app_claim(
    app_id: Slug,
    body: Claim,
    customer: CustomerDep,
    clients: ClientsDep,
    customer_attributes: CustomerAttributesDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> GrantPublic:
    """Claim a claimable benefit into the wallet (edition-limited benefits: in the customer's edition)."""
    ctx = app_context(customer, app_id, body.device_id)
    ctx.edition = served_edition((await customer_attributes.of(customer.customer_id)).editions)
    resp = await clients.benefits.GrantBenefit(
        to_proto(
            pb.GrantBenefitRequest,
            body,
            customer_id=customer.customer_id,
            app_id=app_id,
            channel="claim",
            context=ctx,
            idempotency_key=caller_key(f"app:{app_id}", idempotency_key),
            principal=customer_principal(app_id),
        )
    )
    return from_proto(GrantPublic, resp.grant)


@router.post(
    "/apps/{app_id}/redemptions",
    operation_id="redeem_benefit",
    summary="Redeem or hold a benefit",
    status_code=status.HTTP_201_CREATED,
    response_model=RedemptionPublic,
)
async def app_redeem(
    app_id: Slug,
    body: Use,
    customer: CustomerDep,
    clients: ClientsDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> RedemptionPublic:
    """Redeem (or, with hold_seconds, reserve) a benefit in this app."""
    return await use_benefit(
        clients,
        body,
        customer_id=customer.customer_id,
        context=app_context(customer, app_id, body.device_id),
        key=caller_key(f"app:{app_id}", idempotency_key),
        principal=customer_principal(app_id),
    )


@router.post(
    "/apps/{app_id}/redemptions/{redemption_id}/refunds",
    operation_id="refund_redemption",
    summary="Refund a redemption",
    response_model=RedemptionPublic,
)
async def app_refund(
    app_id: Slug,
    redemption_id: RedemptionId,
    body: Refund,
    customer: CustomerDep,
    clients: ClientsDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> RedemptionPublic:
    """Refund all or part of a redemption back to the wallet."""
    app_context(customer, app_id)
    key = caller_key(f"app:{app_id}", idempotency_key)
    return await refund_use(
        clients, body, redemption_id, customer.customer_id, key, customer_principal(app_id)
    )


@router.post(
    "/apps/{app_id}/redemptions/{redemption_id}/{action}",
    operation_id="settle_redemption_hold",
    summary="Confirm or cancel a held redemption",
    response_model=RedemptionPublic,
)
async def app_settle(
    app_id: Slug,
    redemption_id: RedemptionId,
    action: Settle,
    customer: CustomerDep,
    clients: ClientsDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> RedemptionPublic:
    """Confirm or cancel a hold."""
    app_context(customer, app_id)
    key = caller_key(f"app:{app_id}", idempotency_key)
    return await settle_hold(
        clients, action, redemption_id, customer.customer_id, key, customer_principal(app_id)
    )


@router.get(
    "/apps/{app_id}/redemptions/{redemption_id}",
    operation_id="get_my_redemption",
    summary="Get one of the customer's redemptions",
    response_model=RedemptionPublic,
)
async def app_redemption(
    app_id: Slug, redemption_id: RedemptionId, customer: CustomerDep, clients: ClientsDep
) -> RedemptionPublic:
    """One of the customer's redemptions made in this app."""
    app_context(customer, app_id)
    resp = await clients.benefits.GetRedemption(
        pb.GetRedemptionRequest(
            redemption_id=redemption_id,
            customer_id=customer.customer_id,
            principal=customer_principal(app_id),
        )
    )
    return from_proto(RedemptionPublic, resp.redemption)
