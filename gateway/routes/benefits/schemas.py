"""Request and response bodies of the benefits routes, named as the contract names the fields: requests
are filled by to_proto, responses by from_proto (a kind is the enum value's lower-case name)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.editions import Edition

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
Ref = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")]
# Money and counts are strict integers (minor units): true, "100", 100.0 and 1e2 are refused.
Amount = Annotated[int, Field(strict=True, ge=0, le=10**12)]
StrictBool = Annotated[bool, Field(strict=True)]


def count(high: int) -> object:
    """A strict integer count or rate in 0..high."""
    return Field(strict=True, ge=0, le=high)


Kind = Literal["fixed_coupon", "discount_coupon", "rate_coupon", "points", "perk"]
Scope = Annotated[str, Field(pattern=r"^(app|partner):(\*|[a-z][a-z0-9_-]{1,39})(:[a-z0-9_-]{1,40})?$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BenefitDraft(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "benefit_id": "coffee-coupon",
                    "name": "Coffee coupon",
                    "kind": "fixed_coupon",
                    "funder": "dept:retail",
                    "face_value": 500,
                    "min_order_amount": 2000,
                    "eligible_apps": ["mbank", "life"],
                    "usable_scopes": ["app:*", "partner:ride"],
                    "valid_days": 30,
                    "total_budget": 500000,
                    "daily_budget": 50000,
                    "per_customer_limit": 1,
                    "claimable": True,
                }
            ]
        }
    )
    benefit_id: Slug
    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    funder: str = Field(pattern=r"^(dept|partner):[a-z][a-z0-9_-]{1,39}$")
    branch: Slug | None = None
    face_value: Amount
    discount_bps: Annotated[int, count(10_000)] = 0
    rate_bps: Annotated[int, count(5_000)] = 0
    min_order_amount: Amount = 0
    eligible_apps: list[Slug] = Field(default_factory=list, max_length=20)
    eligible_editions: list[Edition] = Field(default_factory=list, max_length=6)
    min_assurance_level: Annotated[int, count(3)] = 0
    usable_scopes: list[Scope] = Field(min_length=1, max_length=30)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: Annotated[int, count(3650)] = 0
    pending_days: Annotated[int, count(365)] = 0
    total_budget: Amount
    daily_budget: Amount = 0
    per_customer_limit: Annotated[int, count(10_000)] = 0
    stackable: StrictBool = False
    claimable: StrictBool = False


class BenefitPublic(BenefitDraft):
    model_config = ConfigDict(extra="ignore")
    status: str
    drafted_by: str
    reviewed_by: str
    budget_remaining: int


class Review(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"approve": True, "note": "budget checked against the campaign plan"}]
        }
    )
    approve: StrictBool
    note: str = Field(default="", max_length=500)


class Claim(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"benefit_id": "coffee-coupon", "device_id": "ios-7f3a"}]}
    )
    benefit_id: Slug
    device_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")


class Use(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "benefit_id": "coffee-coupon",
                    "order_amount": 3500,
                    "order_ref": "order-7f3a-01",
                    "device_id": "ios-7f3a",
                }
            ]
        }
    )
    benefit_id: Slug
    grant_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    amount: Amount = 0
    order_amount: Amount = 0
    order_ref: Ref | None = None
    device_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    hold_seconds: Annotated[int, Field(strict=True, ge=1, le=86_400)] | None = Field(
        default=None, description="reserve instead of redeem"
    )


class PartnerUse(Use):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "benefit_id": "ride-discount",
                    "pairwise_id": "pw_5f2c9a7e",
                    "order_amount": 4200,
                    "order_ref": "trip-8c1d",
                    "scene": "airport",
                    "hold_seconds": 900,
                }
            ]
        }
    )
    pairwise_id: str = Field(min_length=1, max_length=100)
    scene: Slug | None = None


class Refund(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ratio_bps": 5000}]})
    amount: Amount = 0
    ratio_bps: Annotated[int, count(10_000)] = 0

    @model_validator(mode="after")
    def _one_of(self) -> Refund:
        if (self.amount > 0) == (self.ratio_bps > 0):
            raise ValueError("give either a positive amount or ratio_bps")
        return self


class PartnerRef(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"pairwise_id": "pw_5f2c9a7e"}]})
    pairwise_id: str = Field(min_length=1, max_length=100)


class PartnerRefund(Refund, PartnerRef):
    model_config = ConfigDict(json_schema_extra={"examples": [{"pairwise_id": "pw_5f2c9a7e", "amount": 500}]})
    pass


class GrantPublic(BaseModel):
    grant_id: str
    benefit_id: str
    benefit_name: str
    kind: Kind | None = Field(description="the benefit's kind (null only where the contract leaves it unset)")
    status: str
    initial_amount: int
    remaining: int
    held: int
    available_at: datetime | None
    expires_at: datetime | None
    usable_here: bool


class PointsPublic(BaseModel):
    benefit_id: str
    available: int
    pending: int
    held: int


class WalletPublic(BaseModel):
    grants: list[GrantPublic]
    points: list[PointsPublic]


class RedemptionPublic(BaseModel):
    redemption_id: str
    benefit_id: str
    status: str
    amount: int
    refunded: int
    order_amount: int
    order_ref: str
    scope: str
    created_at: datetime | None
    hold_expires_at: datetime | None


RedemptionId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Settle = Literal["confirm", "cancel"]
