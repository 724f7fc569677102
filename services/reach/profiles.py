"""The audience profile: a per-customer projection of identity attributes and behaviour events."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from services.reach.models import AudienceProfile
from services.reach.policy import zone

ATTRIBUTES_TTL = timedelta(hours=1)
# App events that carry a profile attribute in their properties.
_ATTRIBUTE_EVENTS = {"aum_tier_upgraded": "aum_tier"}


@dataclass(frozen=True)
class CustomerAttributes:
    """Identity's view of a customer (GetCustomerAttributes)."""

    customer_id: str
    assurance_level: int = 0
    editions: tuple[str, ...] = ()
    branch: str = ""
    app_ids: tuple[str, ...] = ()
    time_zone: str = ""
    aum_tier: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def get_or_create(session: Session, customer_id: str, *, now: datetime) -> AudienceProfile:
    profile = session.get(AudienceProfile, customer_id)
    if profile is None:
        profile = AudienceProfile(customer_id=customer_id, updated_at=now)
        session.add(profile)
    return profile


def needs_attributes(profile: AudienceProfile | None, *, now: datetime) -> bool:
    """Whether identity's attributes should be (re)read for this profile."""
    return (
        profile is None
        or profile.attributes_checked_at is None
        or (now - profile.attributes_checked_at > ATTRIBUTES_TTL)
    )


def apply_attributes(
    session: Session, attributes: CustomerAttributes | None, *, customer_id: str, now: datetime
) -> None:
    """Project identity's attributes; None records that they were looked for but not available."""
    profile = get_or_create(session, customer_id, now=now)
    profile.attributes_checked_at = now
    if attributes is not None:
        profile.assurance_level = attributes.assurance_level
        profile.editions = sorted(set(attributes.editions))
        profile.branch = attributes.branch
        profile.apps = sorted(set(profile.apps) | set(attributes.app_ids))
        profile.aum_tier = attributes.aum_tier or profile.aum_tier
        profile.tags = sorted(set(attributes.tags))
        if attributes.time_zone and zone(attributes.time_zone, fallback=None):
            profile.time_zone = attributes.time_zone
    profile.updated_at = now
    session.add(profile)


def apply_event(
    session: Session,
    *,
    customer_id: str,
    app_id: str,
    event_type: str,
    occurred_at: datetime,
    properties: Mapping[str, str],
    now: datetime,
) -> AudienceProfile:
    """Project a behaviour event: apps used, last active, and attributes some events carry."""
    profile = get_or_create(session, customer_id, now=now)
    if app_id and app_id not in profile.apps:
        profile.apps = sorted({*profile.apps, app_id})
    if profile.last_active_at is None or occurred_at > profile.last_active_at:
        profile.last_active_at = min(occurred_at, now)
    zone_name = properties.get("time_zone", "")
    if zone_name and zone(zone_name, fallback=None):
        profile.time_zone = zone_name
    attribute = _ATTRIBUTE_EVENTS.get(event_type)
    if attribute and properties.get(attribute):
        setattr(profile, attribute, properties[attribute][:40])
    profile.updated_at = now
    session.add(profile)
    return profile


def iter_profiles(
    session: Session, *, branch: str | None = None, page: int = 500
) -> Iterator[AudienceProfile]:
    """Every profile (of one branch), page by page."""
    after = ""
    while True:
        stmt = select(AudienceProfile).where(col(AudienceProfile.customer_id) > after)
        if branch is not None:
            stmt = stmt.where(AudienceProfile.branch == branch)
        rows = list(session.exec(stmt.order_by(col(AudienceProfile.customer_id)).limit(page)))
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].customer_id
