"""Request bodies of the reach routes (strict, bounded), named as the contract names the fields (to_proto
fills the request messages from them); the responses are in reach/public.py."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Path
from lattice.reach.v1 import reach_pb2 as pb
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.auth import OperatorPrincipal
from gateway.problems import Problem
from services.runtime.personal_data import contains_personal_number
from services.runtime.proto_mapping import to_proto

AppIdPattern = r"^[a-z][a-z0-9_-]{1,39}$"
AppId = Annotated[str, Path(pattern=AppIdPattern)]
Slug = Annotated[str, Field(pattern=AppIdPattern)]
Name = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
Text = Annotated[str, Field(max_length=200)]
Channel = Literal["inbox", "push", "sms", "partner"]
MAX_EVENTS = 100
# Properties must never carry phone, ID-card or card numbers: such keys, or values that hold them
# (values are also refused at the edge, gateway/personal_data_guard.py).
_PERSONAL_KEY = re.compile(r"(^|_)(phone|mobile|id_?card|card_?(no|num|number)|pan|passport)($|_)", re.I)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppEventCreate(Strict):
    event_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    # the type becomes a NATS subject token: lower-case words, digit runs of at most six
    type: Annotated[
        str, Field(min_length=2, max_length=60, pattern=r"^[a-z][a-z_]*(?:[0-9]{1,6}[a-z_]+)*[0-9]{0,6}$")
    ]
    occurred_at: AwareDatetime | None = None
    properties: dict[Name, Text] = Field(default_factory=dict, max_length=20)
    device_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = ""
    click_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = ""


class EventBatch(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "evt_01HZX3K9QF",
                            "type": "fund_page_viewed",
                            "occurred_at": "2027-03-02T10:15:00+08:00",
                            "properties": {"fund": "balanced"},
                            "device_id": "ios-7f3a",
                        }
                    ]
                }
            ]
        }
    )
    events: list[AppEventCreate] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsAccepted(BaseModel):
    accepted: int


class ContactPreferenceUpdate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"channel": "sms", "purpose": "offers", "opted_in": False}]}
    )
    channel: Channel
    purpose: Annotated[str, Field(pattern=r"^(all|[a-z][a-z0-9_-]{1,39})$")] = "all"
    opted_in: bool


class Predicate(Strict):
    field: Annotated[str, Field(pattern=r"^[a-z_]{2,40}(\.[A-Za-z0-9_]{1,40})?$")]
    op: Literal["eq", "ne", "in", "not_in", "contains", "gte", "lte", "gt", "lt", "exists"]
    values: list[Text] = Field(default_factory=list, max_length=50)


class Touchpoint(Strict):
    channel: Channel
    app_id: Slug | Literal[""] = ""
    partner_id: Slug | Literal[""] = ""


class Content(Strict):
    content_item_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")] = ""
    title: Text = ""
    body: Annotated[str, Field(max_length=2000)] = ""
    variables: dict[Name, Text] = Field(default_factory=dict, max_length=20)
    locale: Annotated[str, Field(max_length=10)] = ""


class Trigger(Strict):
    event_type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]{1,99}$")]
    predicates: list[Predicate] = Field(default_factory=list, max_length=20)
    delay_s: int = Field(default=0, ge=0, le=30 * 86400)


class Schedule(Strict):
    start_at: AwareDatetime
    every_s: int = Field(default=0, ge=0, le=366 * 86400)


class StrategyCreate(Strict):
    """4W1Do: who (segment, control share), where (touchpoints), what (content), when, do."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Fund page follow-up",
                    "purpose": "offers",
                    "segment": [{"field": "edition", "op": "eq", "values": ["standard"]}],
                    "control_share_bp": 1000,
                    "touchpoints": [{"channel": "inbox", "app_id": "mbank"}],
                    "content": {
                        "title": "Still thinking about funds?",
                        "body": "Talk to an adviser in the app.",
                    },
                    "trigger": {"event_type": "fund_page_viewed", "delay_s": 3600},
                    "goal_event_type": "fund_purchased",
                }
            ]
        }
    )

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["marketing", "transactional"] = "marketing"
    purpose: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")] = "offers"
    segment: list[Predicate] = Field(default_factory=list, max_length=20)
    control_share_bp: int = Field(default=0, ge=0, le=5000)
    touchpoints: list[Touchpoint] = Field(min_length=1, max_length=4)
    content: Content
    deep_link: Annotated[str, Field(max_length=500)] = ""
    trigger: Trigger | None = None
    schedule: Schedule | None = None
    benefit_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")] = ""
    validity_s: int = Field(default=3 * 86400, ge=60, le=90 * 86400)
    goal_event_type: Annotated[str, Field(max_length=100, pattern=r"^([a-z][a-z0-9_.]{1,99})?$")] = ""
    conversion_window_s: int = Field(default=7 * 86400, ge=0, le=90 * 86400)
    min_interval_s: int = Field(default=0, ge=0, le=90 * 86400)


class StrategyUpdate(StrategyCreate):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Fund page follow-up",
                    "purpose": "offers",
                    "touchpoints": [{"channel": "inbox", "app_id": "mbank"}],
                    "content": {"title": "Still thinking about funds?", "body": "An adviser can help."},
                    "trigger": {"event_type": "fund_page_viewed", "delay_s": 7200},
                    "expected_version": 1,
                }
            ]
        }
    )
    expected_version: int = Field(default=0, ge=0, le=2**31 - 1)  # int32 in the contract


class ChannelRule(Strict):
    channel: Channel
    daily_cap: int = Field(default=0, ge=0, le=1000)
    rate_per_second: int = Field(default=0, ge=0, le=100_000)


class PolicyProposalCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channels": [{"channel": "sms", "daily_cap": 2, "rate_per_second": 50}],
                    "daily_contact_budget": 4,
                    "quiet_start": "21:00",
                    "quiet_end": "08:00",
                    "quiet_channels": ["sms", "push"],
                    "default_time_zone": "Asia/Shanghai",
                }
            ]
        }
    )
    channels: list[ChannelRule] = Field(default_factory=list, max_length=4)
    daily_contact_budget: int = Field(default=6, ge=0, le=1000)
    quiet_start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "21:00"
    quiet_end: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "08:00"
    quiet_channels: list[Channel] = Field(
        default_factory=lambda: list[Channel](["push", "sms", "partner"]), max_length=4
    )
    default_time_zone: Annotated[str, Field(min_length=1, max_length=64)] = "Asia/Shanghai"


def actor_pb(operator: OperatorPrincipal) -> pb.Actor:
    return to_proto(pb.Actor, operator)  # its id and branch ("" for head office)


def check_privacy(event: AppEventCreate) -> None:
    """Refuse events whose properties look like phone, ID-card or card numbers."""
    for key, value in event.properties.items():
        if _PERSONAL_KEY.search(key) or contains_personal_number(value):
            raise Problem(422, "personal_data_in_event", f"property {key} looks like personal data")
