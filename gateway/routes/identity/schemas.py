"""Request and response bodies of the identity routes (strict, bounded), named as the contract names the
fields: services.runtime.proto_mapping fills request messages from them (to_proto) and them from
responses (from_proto)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Literal

from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import CustomerPrincipal
from services.runtime.proto_mapping import from_proto

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
Scope = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_:.-]*$")]
Jwt = Annotated[str, Field(min_length=10, max_length=4096)]
OpaqueToken = Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
ClickId = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]
DataCategory = Literal[
    "identity", "pairwise_id", "assurance_level", "benefits", "contact_masked", "conversion"
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    scope: str
    app_user_id: str
    assurance_level: int


def caller(customer: CustomerPrincipal) -> pb.CustomerCaller:
    """The authenticated customer as identity's RPCs take it."""
    return pb.CustomerCaller(
        customer_id=customer.customer_id,
        app_id=customer.app_id,
        assurance_level=customer.assurance_level,
        token_id=customer.token_id,
        scopes=sorted(customer.scopes),
    )


def token_public(
    resp: pb.SignInResponse | pb.RefreshSessionResponse | pb.RedeemRecognitionTicketResponse,
) -> TokenPublic:
    # OAuth's token response (RFC 6749 section 5.1) names the granted scopes in one space-separated
    # `scope` string where the contract keeps a repeated `scopes`
    return from_proto(TokenPublic, resp, scope=" ".join(resp.scopes))


class ConsentCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "recipient_type": "app",
                    "recipient": "life",
                    "purpose": "cross_app_recognition",
                    "data_categories": ["identity", "assurance_level"],
                    "text_version": "consent-2026.1",
                }
            ]
        }
    )
    recipient_type: Literal["app", "partner"]
    recipient: Slug
    purpose: str = Field(pattern=r"^[a-z][a-z0-9_]{1,99}$")
    data_categories: list[DataCategory] = Field(min_length=1, max_length=6)
    text_version: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:-]+$")


class ConsentPublic(BaseModel):
    consent_id: str
    recipient_type: str
    recipient: str
    purpose: str
    data_categories: list[str]
    text_version: str
    granted_at: datetime | None
    withdrawn_at: datetime | None
    granted_in_app_id: str


class BindingPublic(BaseModel):
    binding_id: str
    partner_id: str
    partner_name: str
    scopes: list[str]
    required_assurance_level: int
    status: str
    expires_at: datetime | None
    purpose: str
    data_categories: list[str]
    consent_text_version: str


class PartnerLinkPublic(BaseModel):
    partner_id: str
    pairwise_id: str
    scopes: list[str]
    linked_at: datetime | None
