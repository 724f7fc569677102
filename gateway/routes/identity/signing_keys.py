"""Identity routes for signing keys: the JWKS relying parties verify tokens with, and head office's rotation
of the token signing key and of partners' request-signing secrets."""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.routes.identity.ops import registry_actor, require_head_office
from gateway.routes.identity.schemas import Slug, Strict, b64
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1", tags=["identity"])
public_router = APIRouter(prefix="/v1", tags=["identity"])
ADMIN = require_role("admin")


class KeyRotation(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap_seconds": 3600}]})
    overlap_seconds: int = Field(default=900, ge=0, le=7 * 24 * 3600)


class SigningKeyRotated(BaseModel):
    kid: str
    previous_kid: str | None
    previous_not_after: datetime | None


class PartnerKeyRotated(BaseModel):
    partner_id: str
    key_id: str
    secret: str = Field(description="base64 HMAC secret; shown only once")
    previous_key_not_after: datetime | None


@public_router.get(
    "/.well-known/jwks.json",
    operation_id="get_token_keys",
    summary="Public keys that verify identity-issued tokens",
)
async def jwks(clients: ClientsDep) -> JSONResponse:
    """The JSON Web Key Set of the token signing keys in use and in their overlap; relying parties
    (Kong, sibling app backends) cache it.
    """
    resp = await clients.identity.GetJwks(pb.GetJwksRequest())
    return JSONResponse(json.loads(resp.jwks_json), headers={"Cache-Control": "public, max-age=60"})


@router.post(
    "/ops/partners/{partner_id}/signing-keys",
    operation_id="rotate_partner_key",
    summary="Rotate a partner's signing key",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerKeyRotated,
)
async def rotate_partner_key(
    partner_id: Slug,
    body: KeyRotation,
    clients: ClientsDep,
    operator: OperatorPrincipal = ADMIN,
) -> PartnerKeyRotated:
    """A new request-signing secret for a partner; the previous one stays valid for the overlap."""
    require_head_office(operator)
    resp = await clients.identity.RotatePartnerSigningKey(
        to_proto(
            pb.RotatePartnerSigningKeyRequest, body, partner_id=partner_id, actor=registry_actor(operator)
        )
    )
    # the secret's bytes travel as base64 text (JSON has no bytes)
    return from_proto(PartnerKeyRotated, resp, secret=b64(resp.secret))


@router.post(
    "/ops/identity/signing-keys/rotate",
    operation_id="rotate_token_signing_key",
    summary="Rotate the token signing key",
    response_model=SigningKeyRotated,
)
async def rotate_signing_key(
    body: KeyRotation, clients: ClientsDep, operator: OperatorPrincipal = ADMIN
) -> SigningKeyRotated:
    """Sign tokens with a new key; the previous key stays in the JWKS for the overlap."""
    require_head_office(operator)
    resp = await clients.identity.RotateSigningKey(
        to_proto(pb.RotateSigningKeyRequest, body, actor=registry_actor(operator))
    )
    return from_proto(SigningKeyRotated, resp)
