"""Routes of the test's own that expose what the edge authenticated, plus one with a countable effect."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import CustomerDep, OperatorDep, OperatorPrincipal, PartnerDep, require_role
from gateway.idempotency import IdempotencyKeyDep
from gateway.problems import Problem

router = APIRouter(prefix="/v1", tags=["edge-probe"])
BRANCH_OBJECTS = {"voucher-sz": "sz01", "voucher-gz": "gz01"}


class Transfer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=1, le=1_000_000)
    memo: str = Field(default="", max_length=100)


class Effects:
    """Counts how often the effectful route really ran (the one effect idempotency must keep single)."""

    applied: list[tuple[str | None, int]] = []


@router.get("/apps/{app_id}/probe/me")
async def whoami(app_id: Annotated[str, Path(max_length=40)], customer: CustomerDep) -> dict:
    return {"customer_id": customer.customer_id, "app_id": customer.app_id, "acr": customer.assurance_level}


@router.get("/apps/{app_id}/probe/customers/{customer_id}")
async def customer_data(
    app_id: Annotated[str, Path(max_length=40)],
    customer_id: Annotated[str, Path(max_length=40)],
    customer: CustomerDep,
) -> dict:
    """Routes act on the principal: another customer's id in the path is simply not found."""
    if customer_id != customer.customer_id:
        raise Problem(404, "not_found", "no such customer")
    return {"customer_id": customer.customer_id}


@router.post("/partner/probe/transfers", status_code=201)
async def partner_transfer(
    body: Transfer,
    partner: PartnerDep,
    idempotency_key: IdempotencyKeyDep = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict:
    Effects.applied.append((idempotency_key, body.amount))
    await asyncio.sleep(0.2)  # keeps the operation in flight long enough for concurrent retries to meet it
    return {"partner_id": partner.partner_id, "amount": body.amount, "effect": len(Effects.applied)}


@router.get("/ops/probe/objects/{object_id}")
async def branch_object(
    object_id: Annotated[str, Path(max_length=40)],
    operator: Annotated[OperatorPrincipal, require_role("viewer")],
) -> dict:
    branch = BRANCH_OBJECTS.get(object_id)
    if branch is None:
        raise Problem(404, "not_found", "no such object")
    if not operator.can_manage_branch(branch):
        raise Problem(403, "other_branch", "this object belongs to another branch")
    return {"object_id": object_id, "branch": branch}


@router.post("/ops/probe/objects", status_code=201)
async def create_object(operator: OperatorDep, idempotency_key: IdempotencyKeyDep = None) -> dict:
    if not operator.has_role("operator"):
        raise Problem(403, "role_required", "this action needs the operator role")
    Effects.applied.append((idempotency_key, 0))
    return {"created_by": operator.operator_id, "effect": len(Effects.applied)}
