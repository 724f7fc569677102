"""Identity routes for partner platforms: start a binding, collect the pairwise id, look up, unbind.

Partners only ever see pairwise ids; the internal customer id never appears in these answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import PartnerDep
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.routes.identity.schemas import BindingPublic, PartnerLinkPublic, Scope, Strict
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1/partner", tags=["identity"])
BindingId = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^bnd_[A-Za-z0-9_-]+$")]
PairwiseId = Annotated[str, Path(min_length=8, max_length=60, pattern=r"^pw_[a-z2-7]+$")]


class BindingStart(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partner_user_ref": "ride-user-42",
                    "scopes": ["benefits:redeem"],
                    "required_assurance_level": 2,
                }
            ]
        }
    )
    partner_user_ref: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")
    scopes: list[Scope] = Field(default_factory=list, max_length=20)
    required_assurance_level: int = Field(default=2, ge=1, le=3)


class BindingCompleted(BaseModel):
    pairwise_id: str
    partner_user_ref: str
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str


@router.post(
    "/bindings",
    operation_id="start_binding",
    summary="Start binding one of the partner's users",
    status_code=status.HTTP_201_CREATED,
    response_model=BindingPublic,
)
async def start_binding(
    body: BindingStart, partner: PartnerDep, clients: ClientsDep, idempotency_key: IdempotencyKeyDep = None
) -> BindingPublic:
    """Start binding one of the partner's users; the customer confirms in a bank app within 10 minutes."""
    resp = await clients.identity.StartPartnerBinding(
        to_proto(pb.StartPartnerBindingRequest, body, partner_id=partner.partner_id)
    )
    return from_proto(BindingPublic, resp.binding)


@router.get(
    "/bindings/{binding_id}",
    operation_id="get_binding",
    summary="Get a binding's state",
    response_model=BindingPublic,
)
async def get_binding(binding_id: BindingId, partner: PartnerDep, clients: ClientsDep) -> BindingPublic:
    """Whether the customer has confirmed the binding yet (pending, confirmed, completed or expired)."""
    resp = await clients.identity.GetPartnerBinding(
        pb.GetPartnerBindingRequest(binding_id=binding_id, partner_id=partner.partner_id)
    )
    return from_proto(BindingPublic, resp.binding)


@router.post(
    "/bindings/{binding_id}/complete",
    operation_id="complete_binding",
    summary="Complete a confirmed binding",
    response_model=BindingCompleted,
)
async def complete_binding(
    binding_id: BindingId, partner: PartnerDep, clients: ClientsDep
) -> BindingCompleted:
    """After the customer confirmed: the pairwise id and a partner-scoped token (else 403)."""
    resp = await clients.identity.CompletePartnerBinding(
        pb.CompletePartnerBindingRequest(partner_id=partner.partner_id, binding_id=binding_id)
    )
    # OAuth's space-separated `scope` string (RFC 6749 section 5.1) for the contract's repeated scopes
    return from_proto(BindingCompleted, resp, scope=" ".join(resp.scopes))


@router.get(
    "/customers/{pairwise_id}",
    operation_id="get_customer_link",
    summary="Get a bound customer",
    response_model=PartnerLinkPublic,
)
async def get_customer_link(
    pairwise_id: PairwiseId, partner: PartnerDep, clients: ClientsDep
) -> PartnerLinkPublic:
    """The partner's view of a bound customer; fails at once after the customer withdraws."""
    resp = await clients.identity.GetPartnerLink(
        pb.GetPartnerLinkRequest(partner_id=partner.partner_id, pairwise_id=pairwise_id)
    )
    return from_proto(PartnerLinkPublic, resp.link)


@router.delete(
    "/customers/{pairwise_id}",
    operation_id="unbind_customer",
    summary="Unbind a customer",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def unbind_customer(pairwise_id: PairwiseId, partner: PartnerDep, clients: ClientsDep) -> Response:
    """The partner unbinds its user."""
    await clients.identity.RemovePartnerLink(
        pb.RemovePartnerLinkRequest(partner_id=partner.partner_id, pairwise_id=pairwise_id)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
