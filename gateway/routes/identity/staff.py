"""The staff registry for admins: who may operate the platform, with which role and scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.routes.identity.ops import registry_actor
from services.runtime.proto_mapping import from_protos

router = APIRouter(prefix="/v1", tags=["identity"])
ADMIN = require_role("admin")


class OperatorPublic(BaseModel):
    operator_id: str
    role: str
    branch: str | None
    created_at: datetime | None


class OperatorPage(BaseModel):
    items: list[OperatorPublic]
    next_page_token: str | None


@router.get(
    "/ops/operators",
    operation_id="list_operators",
    summary="List operations staff",
    response_model=OperatorPage,
)
async def list_operators(
    clients: ClientsDep,
    operator: OperatorPrincipal = ADMIN,
    branch: Annotated[
        str | None,
        Query(pattern=r"^([a-z][a-z0-9_-]{1,39}|-)$", description="a branch, or - for head office"),
    ] = None,
    role: Annotated[Literal["viewer", "operator", "reviewer", "admin"] | None, Query()] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9_-]*$")] = "",
) -> OperatorPage:
    """Operators by id (admins; a branch admin sees only its branch). Secrets are never listed."""
    resp = await clients.identity.ListOperators(
        pb.ListOperatorsRequest(
            actor=registry_actor(operator),
            branch=branch or "",
            role=role or "",
            page_size=page_size,
            page_token=page_token,
        )
    )
    return OperatorPage(
        items=from_protos(OperatorPublic, resp.operators),
        next_page_token=resp.next_page_token or None,
    )
