"""Partners: a bound customer's benefits usable in the partner's scenes, addressed by pairwise id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from lattice.benefits.v1 import benefits_pb2 as pb
from lattice.identity.v1 import identity_pb2 as identity_pb
from pydantic import Field

from gateway.auth import PartnerDep, PartnerPrincipal
from gateway.clients import Clients, ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.routes.benefits.calls import (
    caller_key,
    partner_principal,
    refund_use,
    settle_hold,
    use_benefit,
)
from gateway.routes.benefits.schemas import (
    PartnerRef,
    PartnerRefund,
    PartnerUse,
    RedemptionId,
    RedemptionPublic,
    Settle,
    Slug,
    WalletPublic,
)
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1", tags=["benefits"])


def partner_key(partner: PartnerPrincipal, key: str | None) -> str:
    return caller_key(f"partner:{partner.partner_id}", key)


async def resolve_customer(clients: Clients, partner_id: str, pairwise_id: str) -> str:
    resp = await clients.identity.ResolvePairwiseId(
        identity_pb.ResolvePairwiseIdRequest(partner_id=partner_id, pairwise_id=pairwise_id)
    )
    return resp.customer_id


@router.get(
    "/partner/customers/{pairwise_id}/wallet",
    operation_id="get_customer_wallet",
    summary="Get a bound customer's usable benefits",
    response_model=WalletPublic,
)
async def partner_wallet(
    pairwise_id: Annotated[str, Field(min_length=1, max_length=100)],
    partner: PartnerDep,
    clients: ClientsDep,
    scene: Annotated[Slug | None, Query()] = None,
) -> WalletPublic:
    """The benefits of a bound customer that are usable in this partner's scenes."""
    customer_id = await resolve_customer(clients, partner.partner_id, pairwise_id)
    resp = await clients.benefits.GetWallet(
        pb.GetWalletRequest(
            customer_id=customer_id,
            context=pb.UsageContext(partner_id=partner.partner_id, scene=scene or ""),
            only_usable_here=True,
        )
    )
    return from_proto(WalletPublic, resp)


@router.post(
    "/partner/redemptions",
    operation_id="redeem_customer_benefit",
    summary="Redeem or hold a customer's benefit",
    status_code=status.HTTP_201_CREATED,
    response_model=RedemptionPublic,
)
async def partner_redeem(
    body: PartnerUse, partner: PartnerDep, clients: ClientsDep, idempotency_key: IdempotencyKeyDep = None
) -> RedemptionPublic:
    """Redeem (or reserve) a customer's benefit in one of the partner's scenes."""
    customer_id = await resolve_customer(clients, partner.partner_id, body.pairwise_id)
    return await use_benefit(
        clients,
        body,
        customer_id=customer_id,
        context=to_proto(pb.UsageContext, body, partner_id=partner.partner_id),
        key=partner_key(partner, idempotency_key),
        principal=partner_principal(partner.partner_id),
    )


@router.post(
    "/partner/redemptions/{redemption_id}/refunds",
    operation_id="refund_customer_redemption",
    summary="Refund a customer's redemption",
    response_model=RedemptionPublic,
)
async def partner_refund(
    redemption_id: RedemptionId,
    body: PartnerRefund,
    partner: PartnerDep,
    clients: ClientsDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> RedemptionPublic:
    """Refund all or part of a redemption the partner made; the value returns to the customer's wallet."""
    customer_id = await resolve_customer(clients, partner.partner_id, body.pairwise_id)
    return await refund_use(
        clients,
        body,
        redemption_id,
        customer_id,
        partner_key(partner, idempotency_key),
        partner_principal(partner.partner_id),
    )


@router.post(
    "/partner/redemptions/{redemption_id}/{action}",
    operation_id="settle_customer_redemption_hold",
    summary="Confirm or cancel a held redemption",
    response_model=RedemptionPublic,
)
async def partner_settle(
    redemption_id: RedemptionId,
    action: Settle,
    body: PartnerRef,
    partner: PartnerDep,
    clients: ClientsDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> RedemptionPublic:
    """Confirm (capture) or cancel (release) a hold the partner placed on a customer's benefit."""
    customer_id = await resolve_customer(clients, partner.partner_id, body.pairwise_id)
    return await settle_hold(
        clients,
        action,
        redemption_id,
        customer_id,
        partner_key(partner, idempotency_key),
        partner_principal(partner.partner_id),
    )
