"""What the benefits routes share: idempotency keys per caller, principals, redemption calls."""

from __future__ import annotations

import uuid

from lattice.benefits.v1 import benefits_pb2 as pb

from gateway.auth import OperatorPrincipal
from gateway.clients import Clients
from gateway.routes.benefits.schemas import (
    RedemptionPublic,
    Refund,
    Use,
)
from services.runtime.proto_mapping import from_proto, to_proto


def caller_key(caller: str, key: str | None) -> str:
    """Keys are per caller; without one, the operation is simply not deduplicated."""
    return f"{caller}:{key or uuid.uuid4().hex}"


def customer_principal(app_id: str) -> pb.Principal:
    """A customer acting in the app their token was issued for."""
    return pb.Principal(kind="customer", scope_id=app_id)


def partner_principal(partner_id: str) -> pb.Principal:
    return pb.Principal(kind="partner", scope_id=partner_id)


def operator_principal(operator: OperatorPrincipal) -> pb.Principal:
    """An operator: head office (no branch) or one branch."""
    return pb.Principal(kind="operator", scope_id=operator.branch or "", actor_id=operator.operator_id)


async def use_benefit(
    clients: Clients,
    body: Use,
    *,
    customer_id: str,
    context: pb.UsageContext,
    key: str,
    principal: pb.Principal,
) -> RedemptionPublic:
    """Redeem the benefit the body names, or hold it for `hold_seconds`."""
    target = to_proto(
        pb.RedemptionTarget,
        body,
        customer_id=customer_id,
        context=context,
        idempotency_key=key,
        principal=principal,
    )
    if body.hold_seconds:
        held = await clients.benefits.ReserveBenefit(
            pb.ReserveBenefitRequest(target=target, ttl_seconds=body.hold_seconds)
        )
        return from_proto(RedemptionPublic, held.redemption)
    done = await clients.benefits.RedeemBenefit(pb.RedeemBenefitRequest(target=target))
    return from_proto(RedemptionPublic, done.redemption)


async def settle_hold(
    clients: Clients, action: str, redemption_id: str, customer_id: str, key: str, principal: pb.Principal
) -> RedemptionPublic:
    ids = {"redemption_id": redemption_id, "customer_id": customer_id, "idempotency_key": key}
    if action == "confirm":
        resp = await clients.benefits.ConfirmRedemption(
            pb.ConfirmRedemptionRequest(**ids, principal=principal)
        )
    else:
        resp = await clients.benefits.CancelRedemption(pb.CancelRedemptionRequest(**ids, principal=principal))
    return from_proto(RedemptionPublic, resp.redemption)


async def refund_use(
    clients: Clients, body: Refund, redemption_id: str, customer_id: str, key: str, principal: pb.Principal
) -> RedemptionPublic:
    resp = await clients.benefits.RefundRedemption(
        to_proto(
            pb.RefundRedemptionRequest,
            body,
            principal=principal,
            redemption_id=redemption_id,
            customer_id=customer_id,
            idempotency_key=key,
        )
    )
    return from_proto(RedemptionPublic, resp.redemption)
