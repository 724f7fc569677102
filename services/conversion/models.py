"""Conversion tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import JSON, Field, SQLModel

from services.runtime.clock import utcnow
from services.runtime.outbox import OutboxEvent, ProcessedMessage  # noqa: F401  (shared tables)


class PartnerProfile(SQLModel, table=True):
    """Conversion's copy of a partner, kept from identity's events (never read from identity's tables)."""

    __tablename__ = "partner_profile"

    partner_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    postback_url: str = Field(default="", max_length=500)
    registered_at: datetime


class PartnerFlag(SQLModel, table=True):
    """A partner the click-flood guard flagged, with the number of clicks it refused."""

    __tablename__ = "partner_flag"

    partner_id: str = Field(primary_key=True, max_length=40)
    flagged_at: datetime
    flood_clicks: int = 0


class Campaign(SQLModel, table=True):
    """A partner campaign: where its traffic lands, how it is attributed and what it earns."""

    __tablename__ = "campaign"

    campaign_id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(index=True, max_length=40)
    name: str = Field(max_length=100)
    branch: str = Field(default="", max_length=40)
    target_app_id: str = Field(max_length=40)
    landing_url: str = Field(max_length=500)
    lookback_days: int
    conversion_window_days: int
    cpa_amount_minor: int = 0
    currency: str = Field(default="CNY", max_length=3)
    commission_milestone: str = Field(default="activated", max_length=20)
    postback_milestones: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="active", max_length=20)
    # Live (links redirect to the landing and earn) only once a reviewer approved the first version;
    # later changes of terms or landing wait in CampaignVersion until approved.
    review_state: str = Field(
        default="pending_review", max_length=20, sa_column_kwargs={"server_default": "pending_review"}
    )
    approved_by: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    approved_at: datetime | None = None
    # > 0 while a version waits for review (indexed: the approvals inbox lists and counts these)
    pending_version: int = Field(default=0, index=True, sa_column_kwargs={"server_default": "0"})
    created_by: str = Field(default="", max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CampaignVersion(SQLModel, table=True):
    """One proposed or applied version of a campaign: who wrote it, who reviewed it (the audit trail)."""

    __tablename__ = "campaign_version"

    campaign_id: str = Field(primary_key=True, max_length=40)
    version: int = Field(primary_key=True)
    kind: str = Field(max_length=20)  # create | change | status
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(max_length=20)  # pending | approved | rejected | superseded | applied
    proposed_at: datetime = Field(default_factory=utcnow)
    reviewed_by: str = Field(default="", max_length=40)
    reviewed_at: datetime | None = None
    note: str = Field(default="", max_length=500)


class PostbackEndpoint(SQLModel, table=True):
    """Where a partner receives signed postbacks, and the secret they are signed with."""

    __tablename__ = "postback_endpoint"

    partner_id: str = Field(primary_key=True, max_length=40)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow)


class LinkSigningKey(SQLModel, table=True):
    """A key that signs partner links; the previous key stays valid until `not_after` (overlap)."""

    __tablename__ = "link_signing_key"

    key_id: str = Field(primary_key=True, max_length=40)
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    not_after: datetime | None = None


class CampaignLink(SQLModel, table=True):
    """A signed link issued to a partner (the code itself is stateless; this is the record)."""

    __tablename__ = "campaign_link"
    __table_args__ = (UniqueConstraint("partner_id", "idempotency_key"),)

    link_id: str = Field(primary_key=True, max_length=16)
    partner_id: str = Field(max_length=40)
    campaign_id: str = Field(index=True, max_length=40)
    scene: str = Field(max_length=40)
    key_id: str = Field(max_length=40)
    code: str = Field(max_length=200)
    expires_at: datetime
    idempotency_key: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class Touchpoint(SQLModel, table=True):
    """A recorded click (or view) on a partner link; tied to a customer once they are known."""

    __tablename__ = "touchpoint"
    __table_args__ = (
        Index("ix_touchpoint_flood_device", "partner_id", "device_id", "occurred_at"),
        Index("ix_touchpoint_flood_ip", "partner_id", "ip_class", "occurred_at"),
    )

    click_id: str = Field(primary_key=True, max_length=40)
    link_id: str = Field(default="", max_length=16)
    partner_id: str = Field(default="", max_length=40)
    campaign_id: str = Field(default="", max_length=40)
    scene: str = Field(default="", max_length=40)
    interaction: str = Field(default="click", max_length=10)
    device_id: str = Field(default="", index=True, max_length=64)
    ip_class: str = Field(default="", max_length=32)
    attributable: bool = True
    rejection: str = Field(default="", max_length=40)
    occurred_at: datetime
    day: str = Field(max_length=10)
    customer_id: str | None = Field(default=None, index=True, max_length=64)
    landed_at: datetime | None = None


class CustomerJourney(SQLModel, table=True):
    """What conversion knows of one customer: activity, first milestones, and the open funnel entry."""

    __tablename__ = "customer_journey"

    customer_id: str = Field(primary_key=True, max_length=64)
    first_seen_at: datetime
    # when identity reported this customer as newly registered (AppAccountLinked.new_customer)
    registered_at: datetime | None = None
    active_since: datetime | None = None
    last_active_at: datetime | None = None
    entry_id: str | None = Field(default=None, max_length=40)
    activated_at: datetime | None = None
    upgraded_at: datetime | None = None


class FunnelEntry(SQLModel, table=True):
    """One person's way through one campaign's funnel: the credited click and each milestone."""

    __tablename__ = "funnel_entry"

    entry_id: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(index=True, max_length=64)
    click_id: str = Field(index=True, max_length=40)
    partner_id: str = Field(max_length=40)
    campaign_id: str = Field(max_length=40)
    kind: str = Field(max_length=20)
    day: str = Field(max_length=10)
    clicked_at: datetime
    window_ends_at: datetime
    linking_at: datetime  # when identity linked the customer, credited or not
    landed_at: datetime | None = None
    linked_at: datetime | None = None
    activated_at: datetime | None = None
    upgraded_at: datetime | None = None


class FunnelDay(SQLModel, table=True):
    """Incremental funnel counts per partner, campaign and click day (reports read only these)."""

    __tablename__ = "funnel_day"

    partner_id: str = Field(primary_key=True, max_length=40)
    campaign_id: str = Field(primary_key=True, max_length=40)
    day: str = Field(primary_key=True, max_length=10)
    clicks: int = 0
    views: int = 0
    rejected: int = 0
    flooded: int = 0
    landings: int = 0
    linked: int = 0
    acquired: int = 0
    re_engaged: int = 0
    activated: int = 0
    upgraded: int = 0


class CoreMilestone(SQLModel, table=True):
    """A milestone from the core banking feed; its id is the idempotency key for ever."""

    __tablename__ = "core_milestone"

    milestone_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=40)
    customer_id: str = Field(index=True, max_length=64)
    occurred_at: datetime
    tier: str = Field(default="", max_length=40)
    system_id: str = Field(max_length=40)
    recorded_at: datetime = Field(default_factory=utcnow)


class PostbackDelivery(SQLModel, table=True):
    """A webhook to a partner (the delivery outbox): retried with backoff, then dead-lettered.

    `event_type` conversion.milestone.reached (a postback, its body built at each attempt) or
    binding.withdrawn (a partner notification, its body fixed when it is queued)."""

    __tablename__ = "postback_delivery"
    __table_args__ = (Index("ix_postback_due", "status", "next_attempt_at"),)

    delivery_id: str = Field(primary_key=True, max_length=40)
    event_type: str = Field(default="conversion.milestone.reached", max_length=40)
    partner_id: str = Field(index=True, max_length=40)
    campaign_id: str = Field(max_length=40)
    customer_id: str = Field(max_length=64)  # internal: used to ask identity for the pairwise id
    milestone: str = Field(max_length=20)
    kind: str = Field(max_length=20)
    click_id: str = Field(max_length=40)
    occurred_at: datetime
    body: str | None = Field(default=None, max_length=4000)
    pairwise_id_included: bool = False
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_status_code: int = 0
    last_error: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    # W3C trace context of what queued it (the milestone): every attempt is a client span in that trace
    trace_headers: str = Field(default="{}", max_length=1000)


class Goal(SQLModel, table=True):
    """An OGSM goal: its objective, its scope, and measures (a target per metric and period)."""

    __tablename__ = "goal"

    goal_id: str = Field(primary_key=True, max_length=40)
    objective: str = Field(index=True, max_length=200)
    name: str = Field(max_length=100)
    branch: str = Field(default="", index=True, max_length=40)
    app_id: str = Field(default="", max_length=40)
    partner_id: str = Field(default="", max_length=40)
    campaign_id: str = Field(default="", max_length=40)
    # [{"metric", "from_day", "to_day", "target"}]: saved whole with the goal, never half
    measures: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = 1
    deleted: bool = False
    created_by: str = Field(max_length=40)
    updated_by: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class GoalChange(SQLModel, table=True):
    """One change of a goal, by whom and when, with the goal as it left it (the audit trail)."""

    __tablename__ = "goal_change"

    goal_id: str = Field(primary_key=True, max_length=40)
    version: int = Field(primary_key=True)
    action: str = Field(max_length=20)  # created | updated | deleted
    operator_id: str = Field(max_length=40)
    at: datetime = Field(default_factory=utcnow)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PostbackResend(SQLModel, table=True):
    """An operator sent a dead-lettered postback again: who, when, why, and how it had failed (audit)."""

    __tablename__ = "postback_resend"

    resend_id: str = Field(primary_key=True, max_length=36)
    delivery_id: str = Field(index=True, max_length=40)
    partner_id: str = Field(max_length=40)
    campaign_id: str = Field(max_length=40)
    branch: str = Field(default="", max_length=40)
    operator_id: str = Field(max_length=40)
    reason: str = Field(max_length=200)
    previous_attempts: int = 0
    previous_status_code: int = 0
    previous_error: str = Field(default="", max_length=200)
    at: datetime = Field(default_factory=utcnow)
