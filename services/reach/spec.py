"""A strategy's 4W1Do specification as the engine reads it, validated before it is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.runtime.compliance import Passage, check_passages
from services.runtime.errors import InvalidInput

CHANNELS = ("inbox", "push", "sms", "partner")
PROFILE_FIELDS = (
    "apps",
    "editions",
    "assurance_level",
    "aum_tier",
    "branch",
    "tags",
    "time_zone",
    "inactive_days",
)
OPS = ("eq", "ne", "in", "not_in", "contains", "gte", "lte", "gt", "lt", "exists")
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]{1,99}$")]
Short = Annotated[str, Field(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Predicate(_Strict):
    field: Annotated[str, Field(pattern=r"^[a-z_]{2,40}(\.[A-Za-z0-9_]{1,40})?$")]
    op: Literal["eq", "ne", "in", "not_in", "contains", "gte", "lte", "gt", "lt", "exists"]
    values: list[Short] = Field(default_factory=list, max_length=50)


class Touchpoint(_Strict):
    channel: Literal["inbox", "push", "sms", "partner"]
    app_id: Slug | Literal[""] = ""
    partner_id: Slug | Literal[""] = ""

    @model_validator(mode="after")
    def _partner_needs_partner(self) -> Touchpoint:
        if (self.channel == "partner") != bool(self.partner_id):
            raise ValueError("partner_id is required for, and only for, the partner channel")
        return self


class Content(_Strict):
    content_item_id: Annotated[str, Field(max_length=64)] = ""
    title: Annotated[str, Field(max_length=200)] = ""
    body: Annotated[str, Field(max_length=2000)] = ""
    variables: dict[Annotated[str, Field(max_length=40)], Short] = Field(default_factory=dict, max_length=20)
    locale: Annotated[str, Field(max_length=10)] = ""

    @model_validator(mode="after")
    def _item_or_template(self) -> Content:
        if bool(self.content_item_id) == bool(self.title or self.body):
            raise ValueError("give either a content item id or an inline title/body template")
        return self


class Trigger(_Strict):
    event_type: EventType
    predicates: list[Predicate] = Field(default_factory=list, max_length=20)
    delay_s: int = Field(default=0, ge=0, le=30 * 86400)


class Schedule(_Strict):
    start_at: datetime
    every_s: int = Field(default=0, ge=0, le=366 * 86400)

    @model_validator(mode="after")
    def _sane_period(self) -> Schedule:
        if self.start_at.tzinfo is None:
            raise ValueError("start_at must carry a time zone")
        if 0 < self.every_s < 3600:
            raise ValueError("recurring schedules run at most hourly")
        return self


class StrategySpec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["marketing", "transactional"] = "marketing"
    purpose: Slug = "offers"
    segment: list[Predicate] = Field(default_factory=list, max_length=20)
    control_share_bp: int = Field(default=0, ge=0, le=5000)
    touchpoints: list[Touchpoint] = Field(min_length=1, max_length=4)
    content: Content
    deep_link: Annotated[str, Field(max_length=500)] = ""
    trigger: Trigger | None = None
    schedule: Schedule | None = None
    benefit_id: Annotated[str, Field(max_length=64)] = ""
    validity_s: int = Field(default=3 * 86400, ge=60, le=90 * 86400)
    goal_event_type: EventType | Literal[""] = ""
    conversion_window_s: int = Field(default=7 * 86400, ge=0, le=90 * 86400)
    min_interval_s: int = Field(default=0, ge=0, le=90 * 86400)

    @model_validator(mode="after")
    def _one_when(self) -> StrategySpec:
        if (self.trigger is None) == (self.schedule is None):
            raise ValueError("set exactly one of trigger and schedule")
        channels = [t.channel for t in self.touchpoints]
        if len(set(channels)) != len(channels) and "partner" not in channels:
            raise ValueError("a channel appears twice in the fallback order")
        for p in self.segment:
            if p.field not in PROFILE_FIELDS:
                raise ValueError(f"segment field {p.field} is not a profile field")
        if self.kind == "transactional" and self.control_share_bp:
            raise ValueError("transactional messages have no control group")
        return self


def parse_spec(data: dict[str, Any]) -> StrategySpec:
    """Validate a spec; a bad one is InvalidInput with the first problem as detail."""
    try:
        spec = StrategySpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput("invalid_strategy", f"{where}: {first.get('msg', 'invalid')}") from exc
    _check_compliance(spec.content)
    return spec


def _check_compliance(content: Content) -> None:
    """Inline texts pass the same compliance check as content items; claims needing evidence go there."""
    fields = {"title": content.title, "body": content.body}
    fields |= {f"variables.{name}": value for name, value in sorted(content.variables.items())}
    passage = Passage(path="content", locale=content.locale, fields=fields)
    if blocking := [f for f in check_passages([passage], item_type="message") if f.severity == "block"]:
        raise InvalidInput("compliance_violation", "; ".join(f.describe() for f in blocking))
