"""Results of benefits operations, as stored for idempotent replays and returned to callers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.benefits.models import Benefit, Grant, Redemption


class GrantView(BaseModel):
    grant_id: str
    benefit_id: str
    benefit_name: str = ""
    customer_id: str
    kind: str
    status: str
    initial_amount: int
    remaining: int
    held: int = 0
    granted_at: datetime
    available_at: datetime
    expires_at: datetime
    channel: str = ""
    usable_here: bool = False

    @classmethod
    def of(
        cls, grant: Grant, benefit: Benefit, *, remaining: int, held: int = 0, usable: bool = False
    ) -> GrantView:
        return cls(
            grant_id=grant.grant_id,
            benefit_id=grant.benefit_id,
            benefit_name=benefit.name,
            customer_id=grant.customer_id,
            kind=benefit.kind,
            status=grant.status,
            initial_amount=grant.initial_amount,
            remaining=remaining,
            held=held,
            granted_at=grant.granted_at,
            available_at=grant.available_at,
            expires_at=grant.expires_at,
            channel=grant.channel,
            usable_here=usable,
        )


class RedemptionView(BaseModel):
    redemption_id: str
    benefit_id: str
    customer_id: str
    status: str
    amount: int
    refunded: int
    order_amount: int
    order_ref: str
    scope: str
    created_at: datetime
    hold_expires_at: datetime | None
    grant_ids: list[str] = Field(default_factory=list)
    refunded_now: int = 0

    @classmethod
    def of(cls, redemption: Redemption, grant_ids: list[str], *, refunded_now: int = 0) -> RedemptionView:
        return cls(
            redemption_id=redemption.redemption_id,
            benefit_id=redemption.benefit_id,
            customer_id=redemption.customer_id,
            status=redemption.status,
            amount=redemption.amount,
            refunded=redemption.refunded,
            order_amount=redemption.order_amount,
            order_ref=redemption.order_ref,
            scope=redemption.scope,
            created_at=redemption.created_at,
            hold_expires_at=redemption.hold_expires_at,
            grant_ids=grant_ids,
            refunded_now=refunded_now,
        )


class PointsView(BaseModel):
    benefit_id: str
    available: int = 0
    pending: int = 0
    held: int = 0


class WalletView(BaseModel):
    grants: list[GrantView]
    points: list[PointsView]
