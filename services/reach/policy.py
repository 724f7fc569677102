"""Delivery rules the engine enforces for every strategy: caps, budget, quiet hours, consent."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.reach.models import ContactPreference, PolicyRecord
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import InvalidInput

Channel = Literal["inbox", "push", "sms", "partner"]
QUIET_CHANNELS: tuple[Channel, ...] = ("push", "sms", "partner")
HourMinute = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class ChannelRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel
    daily_cap: int = Field(default=0, ge=0, le=1000)  # per customer per local day; 0 = no cap
    # sends per second on the channel, all replicas together (provider quotas); 0 = no limit
    rate_per_second: int = Field(default=0, ge=0, le=100_000)


class DeliveryPolicy(BaseModel):
    """Caps per channel per customer per local day, one daily contact budget, quiet hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: list[ChannelRule] = Field(
        default_factory=lambda: [
            ChannelRule(channel="inbox", daily_cap=0),
            ChannelRule(channel="push", daily_cap=3, rate_per_second=200),
            ChannelRule(channel="sms", daily_cap=2, rate_per_second=50),
            ChannelRule(channel="partner", daily_cap=2, rate_per_second=50),
        ],
        max_length=4,
    )
    daily_contact_budget: int = Field(default=6, ge=0, le=1000)
    quiet_start: HourMinute = "21:00"
    quiet_end: HourMinute = "08:00"
    # The in-app inbox is read when the customer opens the app, so it does not disturb at night.
    quiet_channels: list[Channel] = Field(default_factory=lambda: list(QUIET_CHANNELS), max_length=4)
    default_time_zone: str = Field(default="Asia/Shanghai", max_length=64)

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone(value, fallback=None) is None:
            raise ValueError(f"unknown time zone {value}")
        return value

    def rule(self, channel: str) -> ChannelRule:
        return next((r for r in self.channels if r.channel == channel), ChannelRule(channel=channel))


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone(name: str, *, fallback: str | None = "Asia/Shanghai") -> ZoneInfo | None:
    """A time zone by IANA name, else the fallback's."""
    found = _zone(name) if name else None
    return found or (_zone(fallback) if fallback else None)


def customer_zone(policy: DeliveryPolicy, time_zone: str) -> ZoneInfo:
    return zone(time_zone, fallback=policy.default_time_zone)  # type: ignore[return-value]  # zone() with a fallback never returns None


def local_day(now: datetime, tz: ZoneInfo) -> str:
    """The customer's calendar day, the unit of frequency caps."""
    return now.astimezone(tz).date().isoformat()


def quiet_release_at(policy: DeliveryPolicy, *, tz: ZoneInfo, now: datetime) -> datetime | None:
    """When quiet hours end, if `now` falls inside them for this customer; else None."""
    start = time.fromisoformat(policy.quiet_start)
    end = time.fromisoformat(policy.quiet_end)
    if start == end:
        return None
    local = now.astimezone(tz)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def load_policy(session: Session) -> DeliveryPolicy:
    record = session.get(PolicyRecord, 1)
    return DeliveryPolicy.model_validate(record.policy) if record else DeliveryPolicy()


def get_policy(*, engine: Engine) -> DeliveryPolicy:
    with read_session(engine) as session:
        return load_policy(session)


def parse_policy(data: dict[str, Any]) -> DeliveryPolicy:
    """Validate a policy; a bad one is InvalidInput with the first problem as detail."""
    try:
        return DeliveryPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput("invalid_policy", f"{where}: {first.get('msg', 'invalid')}") from exc


def set_policy(*, engine: Engine, data: dict[str, Any], operator_id: str) -> DeliveryPolicy:
    """Replace the policy in force at once: for tests and set-up only; operators go through policy_changes."""
    policy = parse_policy(data)
    with transaction(engine) as session:
        record = session.get(PolicyRecord, 1) or PolicyRecord(policy_id=1)
        record.policy = policy.model_dump()
        record.updated_by = operator_id
        record.updated_at = utcnow()
        session.add(record)
    return policy


def opted_in(session: Session, *, customer_id: str, channel: str, purpose: str) -> bool:
    """Marketing consent for a channel and purpose; the purpose's own answer wins over "all"."""
    rows = session.exec(
        select(ContactPreference).where(
            ContactPreference.customer_id == customer_id,
            ContactPreference.channel == channel,
            col(ContactPreference.purpose).in_([purpose, "all"]),
        )
    ).all()
    by_purpose = {r.purpose: r.opted_in for r in rows}
    return by_purpose.get(purpose, by_purpose.get("all", True))


def list_preferences(*, engine: Engine, customer_id: str) -> list[ContactPreference]:
    with read_session(engine) as session:
        stmt = select(ContactPreference).where(ContactPreference.customer_id == customer_id)
        return list(
            session.exec(stmt.order_by(col(ContactPreference.channel), col(ContactPreference.purpose)))
        )


def set_preference(
    *, engine: Engine, customer_id: str, channel: str, purpose: str, opted_in: bool, app_id: str
) -> list[ContactPreference]:
    """Record a customer's choice; it applies to every later send, including held ones."""
    if channel not in ("inbox", "push", "sms", "partner"):
        raise InvalidInput("invalid_channel", "channel must be inbox, push, sms or partner")
    if not purpose or len(purpose) > 40:
        raise InvalidInput("invalid_purpose", "purpose must be 1-40 characters")
    with transaction(engine) as session:
        row = session.get(ContactPreference, (customer_id, channel, purpose)) or ContactPreference(
            customer_id=customer_id, channel=channel, purpose=purpose, opted_in=opted_in
        )
        row.opted_in = opted_in
        row.app_id = app_id
        row.updated_at = utcnow()
        session.add(row)
    return list_preferences(engine=engine, customer_id=customer_id)
