"""Request bodies of the content routes (strict, bounded); each field is named as its protobuf field, so
`to_proto` fills the request messages from them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.runtime.editions import Edition

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
Position = Annotated[
    str, Field(max_length=160, pattern=r"^[a-z0-9][a-z0-9_-]{0,38}(?:/[a-z0-9][a-z0-9_-]{0,38}){0,3}$")
]
SlotKey = Annotated[
    str, Field(max_length=120, pattern=r"^[a-z][a-z0-9_-]{1,39}(?:/[a-z0-9][a-z0-9_-]{0,38}){1,4}$")
]
Locale = Literal["zh-Hans", "zh-Hant", "en"]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,40}$")]
Reason = Annotated[str, Field(max_length=500)]
RequiredReason = Annotated[str, Field(min_length=1, max_length=500)]
Link = Annotated[str, Field(min_length=4, max_length=500, pattern=r"^[a-z][a-z0-9+.-]{1,20}://\S+$")]
TimeOfDay = Annotated[str, Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextFields(Strict):
    locale: Locale
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=5000)


class MediaFields(Strict):
    kind: Literal["image", "video"]
    uri: Link
    alt: str = Field(default="", max_length=200)


class VariantFields(Strict):
    edition: Edition
    texts: list[TextFields] = Field(min_length=1, max_length=3)
    media: list[MediaFields] = Field(default_factory=list, max_length=10)
    deep_link: Link | None = None


Variants = Annotated[list[VariantFields], Field(min_length=1, max_length=6)]


class ItemCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "spring-deposit",
                    "type": "product_card",
                    "product_category": "deposit",
                    "variants": [
                        {
                            "edition": "standard",
                            "texts": [
                                {"locale": "zh-Hans", "title": "春季定期存款", "body": "三个月起存"},
                                {"locale": "en", "title": "Spring term deposit", "body": "From three months"},
                            ],
                            "deep_link": "mbank://deposits/spring",
                        }
                    ],
                }
            ]
        }
    )
    item_id: Slug | None = None
    type: Literal["article", "product_card", "banner", "notice"]
    product_category: Literal["wealth", "deposit", "loan", "insurance", "card", "fund"] | None = None
    standard_fallback: bool = True
    variants: Variants


class ItemUpdate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "variants": [
                        {
                            "edition": "standard",
                            "texts": [
                                {
                                    "locale": "en",
                                    "title": "Spring term deposit",
                                    "body": "From three months, now also online",
                                }
                            ],
                        }
                    ],
                    "reason": "wording agreed with compliance",
                }
            ]
        }
    )
    variants: Variants
    reason: Reason = ""


class ItemAction(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "ready for the spring campaign"}]})
    reason: Reason = ""


class ReasonedAction(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "the rate shown is out of date"}]})
    reason: RequiredReason


class Override(Strict):
    rule_id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,59}$")]
    reason: RequiredReason


class Approval(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "overrides": [
                        {"rule_id": "rate_disclaimer", "reason": "the disclaimer is on the landing page"}
                    ]
                }
            ]
        }
    )
    overrides: list[Override] = Field(default_factory=list, max_length=20)


class Rollback(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": 2, "reason": "version 3 showed the wrong rate"}]}
    )
    version: int = Field(ge=1, le=100_000)
    reason: RequiredReason


class SlotCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "app_id": "mbank",
                    "position": "home/banner",
                    "editions": ["standard", "elderly"],
                    "description": "the home page's top banner",
                }
            ]
        }
    )
    app_id: Slug
    position: Position
    editions: list[Edition] = Field(default_factory=list, max_length=6)
    description: str = Field(default="", max_length=200)


class TargetingFields(Strict):
    editions: list[Edition] = Field(default_factory=list, max_length=6)
    min_assurance_level: int = Field(default=0, ge=0, le=4)
    aum_tiers: list[Name] = Field(default_factory=list, max_length=20)
    branches: list[Name] = Field(default_factory=list, max_length=20)
    tags: list[Name] = Field(default_factory=list, max_length=20)


class ScheduleFields(Strict):
    """Absolute window (with an offset, e.g. +08:00) and/or a daily window in Asia/Shanghai."""

    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    daily_start: TimeOfDay | None = None
    daily_end: TimeOfDay | None = None


class PlacementFields(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "spring-deposit",
                    "priority": 20,
                    "weight": 1,
                    "targeting": {"editions": ["standard", "elderly"]},
                    "cap_per_day": 2,
                }
            ]
        }
    )
    item_id: Slug
    fallback_item_id: Slug | None = None
    priority: int = Field(default=0, ge=0, le=1000)
    weight: int = Field(default=1, ge=1, le=10_000)
    schedule: ScheduleFields = Field(default_factory=ScheduleFields)
    targeting: TargetingFields = Field(default_factory=TargetingFields)
    cap_per_day: int = Field(default=0, ge=0, le=100)


class PlacementCreate(PlacementFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "spring-deposit",
                    "slot_key": "mbank/home/banner",
                    "priority": 10,
                    "weight": 1,
                    "schedule": {
                        "starts_at": "2027-03-01T00:00:00+08:00",
                        "ends_at": "2027-03-31T23:59:59+08:00",
                    },
                    "targeting": {"editions": ["standard"]},
                    "cap_per_day": 3,
                }
            ]
        }
    )
    placement_id: Slug | None = None
    slot_key: SlotKey
