"""Reach tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel

from services.runtime.clock import utcnow
from services.runtime.outbox import OutboxEvent, ProcessedMessage  # noqa: F401  (shared tables)


class Strategy(SQLModel, table=True):
    """A 4W1Do reach strategy; the full spec is JSON, the columns the engine looks up are indexed."""

    __tablename__ = "strategy"
    __table_args__ = (Index("ix_strategy_trigger", "trigger_event_type", "status"),)

    strategy_id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=20)  # marketing | transactional
    status: str = Field(default="draft", max_length=20, index=True)
    branch: str | None = Field(default=None, max_length=40)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    trigger_event_type: str | None = Field(default=None, max_length=100)
    next_run_at: datetime | None = Field(default=None, index=True)
    goal_event_type: str | None = Field(default=None, max_length=100, index=True)
    created_by: str = Field(max_length=60)
    approved_by: str | None = Field(default=None, max_length=60)
    version: int = 1
    # The reviewable version of the spec, and everyone who wrote it (its author first).
    revision: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    edited_by: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class StrategyRevision(SQLModel, table=True):
    """One reviewable version of a strategy's spec: its author, its editors and its approver."""

    __tablename__ = "strategy_revision"

    strategy_id: str = Field(primary_key=True, max_length=36)
    revision: int = Field(primary_key=True)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    authored_by: str = Field(max_length=60)
    edited_by: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    approved_by: str | None = Field(default=None, max_length=60)
    approved_at: datetime | None = None
    # a reviewer sent this version back to its writers, with the reason (the next edit opens a new one)
    rejected_by: str | None = Field(default=None, max_length=60)
    rejected_at: datetime | None = None
    rejection_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AudienceProfile(SQLModel, table=True):
    """What reach knows of a customer for segments: from identity attributes and events."""

    __tablename__ = "audience_profile"

    customer_id: str = Field(primary_key=True, max_length=64)
    apps: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    editions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    assurance_level: int = 0
    aum_tier: str = Field(default="", max_length=40)
    branch: str = Field(default="", max_length=40, index=True)
    time_zone: str = Field(default="", max_length=64)
    last_active_at: datetime | None = None
    attributes_checked_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ContactPreference(SQLModel, table=True):
    """A customer's marketing consent for one channel and purpose ("all" covers every purpose)."""

    __tablename__ = "contact_preference"

    customer_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=20)
    purpose: str = Field(primary_key=True, max_length=40)
    opted_in: bool
    app_id: str = Field(default="", max_length=40)
    updated_at: datetime = Field(default_factory=utcnow)


class PolicyRecord(SQLModel, table=True):
    """The delivery policy in force (one row)."""

    __tablename__ = "delivery_policy"

    policy_id: int = Field(default=1, primary_key=True)
    policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(default="", max_length=60)
    approved_by: str = Field(default="", max_length=60, sa_column_kwargs={"server_default": ""})
    updated_at: datetime = Field(default_factory=utcnow)


class PolicyProposal(SQLModel, table=True):
    """A change to the delivery policy; it takes effect once another head-office admin approves it."""

    __tablename__ = "delivery_policy_proposal"

    proposal_id: str = Field(primary_key=True, max_length=36)
    policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    proposed_by: str = Field(max_length=60)
    status: str = Field(default="pending", max_length=20)  # pending | approved | superseded
    decided_by: str | None = Field(default=None, max_length=60)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


class Delivery(SQLModel, table=True):
    """One strategy contact for one customer and one trigger, from matching to receipt."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("strategy_id", "customer_id", "trigger_key", name="uq_delivery_trigger"),
        Index("ix_delivery_due", "status", "not_before"),
        Index("ix_delivery_strategy_created", "strategy_id", "created_at"),
        Index("ix_delivery_customer_strategy", "customer_id", "strategy_id", "created_at"),
    )

    delivery_id: str = Field(primary_key=True, max_length=36)
    strategy_id: str = Field(max_length=36)
    customer_id: str = Field(max_length=64)
    trigger_key: str = Field(max_length=160)
    app_id: str = Field(default="", max_length=40)
    control: bool = False
    status: str = Field(default="pending", max_length=20)
    reason: str = Field(default="", max_length=60)
    channel: str = Field(default="", max_length=20)
    variables: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    triggered_at: datetime
    not_before: datetime
    valid_until: datetime
    held_until: datetime | None = None
    claimed_at: datetime | None = None
    attempts: int = 0
    counted_day: str = Field(default="", max_length=10)
    action_state: str = Field(default="", max_length=60)
    action_attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    opened_at: datetime | None = None


class ContactCounter(SQLModel, table=True):
    """Contacts of one customer on one channel ("*" = all) on one local calendar day."""

    __tablename__ = "contact_counter"

    customer_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=20)
    day: str = Field(primary_key=True, max_length=10)
    count: int = 0


class SendWindow(SQLModel, table=True):
    """Sends on one channel in one second, counted across every replica (the channel's send rate)."""

    __tablename__ = "send_window"

    channel: str = Field(primary_key=True, max_length=20)
    second: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))  # epoch s
    count: int = 0


class InboxMessage(SQLModel, table=True):
    """A message in a customer's in-app inbox; its id is the delivery id."""

    __tablename__ = "inbox_message"
    __table_args__ = (Index("ix_inbox_owner", "customer_id", "app_id", "created_at"),)

    message_id: str = Field(primary_key=True, max_length=36)
    customer_id: str = Field(max_length=64)
    app_id: str = Field(max_length=40)
    strategy_id: str = Field(max_length=36)
    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    deep_link: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None
    expires_at: datetime | None = None


class ProviderDelivery(SQLModel, table=True):
    """A message handed to a push/SMS/partner provider, with its receipt status."""

    __tablename__ = "provider_delivery"

    delivery_id: str = Field(primary_key=True, max_length=36)
    channel: str = Field(max_length=20)
    provider: str = Field(max_length=20)  # sandbox | webhook
    recipient: str = Field(max_length=100)  # customer id, or pairwise id for a partner channel
    partner_id: str = Field(default="", max_length=40)
    payload: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="accepted", max_length=20)  # accepted | delivered | failed (receipt)
    provider_ref: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    receipt_reason: str = Field(default="", max_length=60)
    receipt_at: datetime | None = None


class GoalEvent(SQLModel, table=True):
    """An event some strategy counts as a conversion, kept for treatment-vs-control review."""

    __tablename__ = "goal_event"
    __table_args__ = (Index("ix_goal_customer_type", "customer_id", "event_type", "occurred_at"),)

    event_id: str = Field(primary_key=True, max_length=100)
    customer_id: str = Field(max_length=64)
    event_type: str = Field(max_length=100)
    occurred_at: datetime
