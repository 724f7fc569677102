"""Benefits tables: the catalogue, grants (lots), redemptions, the ledger and usage counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import JSON, Field, SQLModel

from services.runtime.clock import utcnow
from services.runtime.idempotency import Operation  # noqa: F401  (shared table: run_once)
from services.runtime.outbox import OutboxEvent, ProcessedMessage  # noqa: F401  (shared tables)

KINDS = ("fixed_coupon", "discount_coupon", "rate_coupon", "points", "perk")
SINGLE_USE_KINDS = ("fixed_coupon", "discount_coupon", "rate_coupon")


class Benefit(SQLModel, table=True):
    """A benefit definition of the catalogue; approved definitions are never changed."""

    __tablename__ = "benefit"

    benefit_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    funder: str = Field(max_length=60)
    branch: str | None = Field(default=None, max_length=40, index=True)
    face_value: int = Field(default=0, sa_type=BigInteger)
    discount_bps: int = 0
    rate_bps: int = 0
    min_order_amount: int = Field(default=0, sa_type=BigInteger)
    eligible_apps: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    eligible_editions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    min_assurance_level: int = 0
    usable_scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int = 0
    pending_days: int = 0
    total_budget: int = Field(default=0, sa_type=BigInteger)
    daily_budget: int = Field(default=0, sa_type=BigInteger)
    per_customer_limit: int = 0
    stackable: bool = False
    claimable: bool = False
    status: str = Field(default="draft", max_length=20, index=True)
    drafted_by: str = Field(max_length=60)
    reviewed_by: str = Field(default="", max_length=60)
    review_note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    reviewed_at: datetime | None = None


class Grant(SQLModel, table=True):
    """A lot of value held by one customer; its balance lives in ledger account `grant:<id>`."""

    __tablename__ = "grant"
    # a use finds the customer's active lots of one benefit through this index, not by scanning
    # every active grant (SQLite picks it over the single-column ones without ANALYZE statistics)
    __table_args__ = (Index("ix_grant_customer_benefit_status", "customer_id", "benefit_id", "status"),)

    grant_id: str = Field(primary_key=True, max_length=36)
    benefit_id: str = Field(max_length=40, index=True)
    customer_id: str = Field(max_length=64, index=True)
    initial_amount: int = Field(sa_type=BigInteger)
    status: str = Field(default="active", max_length=20, index=True)
    app_id: str = Field(default="", max_length=40)
    channel: str = Field(default="", max_length=80)
    created_by_kind: str = Field(default="", max_length=20)
    created_by_scope: str = Field(default="", max_length=40)
    granted_at: datetime = Field(default_factory=utcnow)
    available_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class Redemption(SQLModel, table=True):
    """Value taken from a customer's lots: held (with a TTL), then confirmed, cancelled or released."""

    __tablename__ = "redemption"

    redemption_id: str = Field(primary_key=True, max_length=36)
    benefit_id: str = Field(max_length=40, index=True)
    customer_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20, index=True)
    amount: int = Field(sa_type=BigInteger)
    refunded: int = Field(default=0, sa_type=BigInteger)
    order_amount: int = Field(default=0, sa_type=BigInteger)
    order_ref: str = Field(default="", max_length=80, index=True)
    scope: str = Field(max_length=120)
    created_by_kind: str = Field(default="", max_length=20)
    created_by_scope: str = Field(default="", max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    hold_expires_at: datetime | None = Field(default=None, index=True)
    settled_at: datetime | None = None


class RedemptionLine(SQLModel, table=True):
    """How much of one lot a redemption took (and how much of that was refunded)."""

    __tablename__ = "redemption_line"

    redemption_id: str = Field(primary_key=True, max_length=36)
    grant_id: str = Field(primary_key=True, max_length=36)
    amount: int = Field(sa_type=BigInteger)
    refunded: int = Field(default=0, sa_type=BigInteger)


class RedemptionRefund(SQLModel, table=True):
    """One refund of a redemption, by the principal that made the redemption."""

    __tablename__ = "redemption_refund"

    refund_id: str = Field(primary_key=True, max_length=36)
    redemption_id: str = Field(max_length=36, index=True)
    amount: int = Field(sa_type=BigInteger)
    created_by_kind: str = Field(max_length=20)
    created_by_scope: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)


class BenefitChange(SQLModel, table=True):
    """A requested change that commits money (top-up, extension); applied when another reviewer approves."""

    __tablename__ = "benefit_change"

    change_id: str = Field(primary_key=True, max_length=36)
    benefit_id: str = Field(max_length=40, index=True)
    kind: str = Field(max_length=20)
    total_budget_increase: int = Field(default=0, sa_type=BigInteger)
    daily_budget: int = Field(default=0, sa_type=BigInteger)
    valid_until: datetime | None = None
    reason: str = Field(default="", max_length=500)
    status: str = Field(default="pending", max_length=20)
    requested_by: str = Field(max_length=64)
    reviewed_by: str = Field(default="", max_length=64)
    review_note: str = Field(default="", max_length=500)
    requested_at: datetime = Field(default_factory=utcnow)
    reviewed_at: datetime | None = None


class BenefitAudit(SQLModel, table=True):
    """Who did what to a benefit, when and why; never updated or deleted."""

    __tablename__ = "benefit_audit"

    id: int | None = Field(default=None, primary_key=True)
    benefit_id: str = Field(max_length=40, index=True)
    action: str = Field(max_length=40)
    actor_id: str = Field(max_length=64)
    actor_branch: str = Field(default="", max_length=40)
    reason: str = Field(default="", max_length=500)
    detail: str = Field(default="", max_length=500)
    at: datetime = Field(default_factory=utcnow)


class LedgerAccount(SQLModel, table=True):
    """A ledger account with its stored balance (debits positive); postings are the truth."""

    __tablename__ = "ledger_account"

    account_id: str = Field(primary_key=True, max_length=120)
    balance: int = Field(default=0, sa_type=BigInteger)
    may_go_negative: bool = False


class LedgerEntry(SQLModel, table=True):
    """One balanced journal entry: its postings sum to zero."""

    __tablename__ = "ledger_entry"

    entry_id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=30)
    reference: str = Field(max_length=80, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class LedgerPosting(SQLModel, table=True):
    """One line of a journal entry; never updated or deleted."""

    __tablename__ = "ledger_posting"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(max_length=36, index=True)
    account_id: str = Field(max_length=120, index=True)
    amount: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class UsageCounter(SQLModel, table=True):
    """A counter bounded by a limit: per-customer grants, daily budgets, claim velocity."""

    __tablename__ = "usage_counter"

    counter_key: str = Field(primary_key=True, max_length=160)
    used: int = Field(default=0, sa_type=BigInteger)


class PartnerBlock(SQLModel, table=True):
    """A customer withdrew consent for a partner: no more use of benefits in its scenes."""

    __tablename__ = "partner_block"

    customer_id: str = Field(primary_key=True, max_length=64)
    partner_id: str = Field(primary_key=True, max_length=40)
    consent_id: str = Field(default="", max_length=64)
    blocked_at: datetime = Field(default_factory=utcnow)
