"""Conversion routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from lattice.conversion.v1 import conversion_pb2 as pb

router = APIRouter(prefix="/v1", tags=["conversion"])

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]


class PartnerProfilePublic(BaseModel):
    partner_id: str
    name: str
    postback_url: str


@router.get("/ops/conversion/partners/{partner_id}", response_model=PartnerProfilePublic)
async def get_partner_profile(
    partner_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = require_role("viewer")
) -> PartnerProfilePublic:
    """The partner as conversion knows it (kept in step with identity through events)."""
    resp = await clients.conversion.GetPartnerProfile(pb.GetPartnerProfileRequest(partner_id=partner_id))
    p = resp.partner
    return PartnerProfilePublic(partner_id=p.partner_id, name=p.name, postback_url=p.postback_url)
