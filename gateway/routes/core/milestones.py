"""`POST /v1/core/milestones`: milestones that pay partners, as the core banking system records them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Request, status
from lattice.common.v1 import core_milestone_pb2
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core_banking import CoreBankingDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.problems import Problem
from services.runtime.personal_data import contains_personal_number
from services.runtime.proto_mapping import to_proto

router = APIRouter(prefix="/v1/core", tags=["core banking"])
SUBJECT = "core.milestone.recorded"
MAX_MILESTONES = 500
# conversion attributes at most 90 days back; the feed may lag, never run ahead of the bank's clock
MAX_AGE = timedelta(days=90)
MAX_SKEW = timedelta(minutes=5)
Kind = Literal["first_transaction", "aum_tier_upgraded"]


class CoreMilestoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    milestone_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{8,64}$")]
    kind: Kind
    customer_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
    occurred_at: AwareDatetime
    tier: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")] | None = None

    @field_validator("milestone_id", "customer_id")
    @classmethod
    def _no_personal_numbers(cls, value: str) -> str:
        # ids travel in events (the milestone id is the message id) and logs
        if contains_personal_number(value):
            raise ValueError("ids must not carry phone, ID-card or card numbers")
        return value

    @model_validator(mode="after")
    def _tier_only_for_upgrades(self) -> CoreMilestoneCreate:
        if (self.kind == "aum_tier_upgraded") != (self.tier is not None):
            raise ValueError("tier is required for aum_tier_upgraded and allowed only there")
        return self


class CoreMilestoneBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "milestones": [
                        {
                            "milestone_id": "ms-20270302-a1b2",
                            "kind": "first_transaction",
                            "customer_id": "m-1001",
                            "occurred_at": "2027-03-02T09:30:00+08:00",
                        }
                    ]
                }
            ]
        },
    )

    milestones: list[CoreMilestoneCreate] = Field(min_length=1, max_length=MAX_MILESTONES)


class CoreMilestonesAccepted(BaseModel):
    accepted: int
    milestone_ids: list[str]


@router.post(
    "/milestones",
    operation_id="record_core_milestones",
    summary="Record core banking milestones",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CoreMilestonesAccepted,
)
async def record_milestones(
    body: CoreMilestoneBatch,
    core: CoreBankingDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep = None,
) -> CoreMilestonesAccepted:
    """Milestones recorded by the core system, published on `core.milestone.recorded`.

    The milestone id is the idempotency key for ever: a milestone sent again (in any batch) pays once,
    and the same batch sent again gets the same answer."""
    now = datetime.now(UTC)
    unique: dict[str, CoreMilestoneCreate] = {}
    for milestone in body.milestones:
        seen = unique.setdefault(milestone.milestone_id, milestone)
        if seen != milestone:
            raise Problem(
                422, "milestone_id_conflict", f"milestone {milestone.milestone_id} differs in the batch"
            )
        if not now - MAX_AGE <= milestone.occurred_at <= now + MAX_SKEW:
            raise Problem(
                422, "invalid_occurred_at", f"milestone {milestone.milestone_id} is too old or in the future"
            )
    bus = request.app.state.bus
    for milestone in unique.values():
        message = to_proto(
            core_milestone_pb2.CoreMilestoneRecorded, milestone, system_id=core.system_id, key_id=core.key_id
        )
        try:
            await bus.publish(
                SUBJECT,
                message.SerializeToString(),
                event_id=milestone.milestone_id,
                event_type=message.DESCRIPTOR.full_name,
            )
        except Exception as exc:
            # milestones already published are deduplicated by id when the batch is sent again
            raise Problem(
                503,
                "milestones_unavailable",
                "milestones could not be stored; retry",
                headers={"Retry-After": "1"},
            ) from exc
    return CoreMilestonesAccepted(accepted=len(unique), milestone_ids=sorted(unique))
