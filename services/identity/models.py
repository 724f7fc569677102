"""Identity tables: the matrix registry, operators, keys, customers, sessions, consent and partner links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, text
from sqlmodel import JSON, Field, SQLModel

from services.runtime.clock import utcnow
from services.runtime.outbox import OutboxEvent, ProcessedMessage  # noqa: F401  (shared tables)


class App(SQLModel, table=True):
    """A bank app of the matrix (core mobile banking, second main app, vertical apps)."""

    __tablename__ = "app"

    app_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)  # core | main | vertical
    legal_entity: str = Field(max_length=100)
    editions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class AppCredential(SQLModel, table=True):
    """The secret an app backend signs its assertions with (HMAC; a KMS holds it in production)."""

    __tablename__ = "app_credential"

    app_id: str = Field(primary_key=True, max_length=40)
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Partner(SQLModel, table=True):
    """An external platform that sends traffic (ride-hailing, food delivery, e-commerce...)."""

    __tablename__ = "partner"

    partner_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    sector: str = Field(max_length=40)
    allowed_scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    postback_url: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class PartnerSigningKey(SQLModel, table=True):
    """An HMAC secret a partner signs requests with; the previous key stays valid until not_after."""

    __tablename__ = "partner_signing_key"

    partner_id: str = Field(primary_key=True, max_length=40)
    key_id: str = Field(primary_key=True, max_length=60)
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    not_before: datetime = Field(default_factory=utcnow)
    not_after: datetime | None = Field(default=None)


class Operator(SQLModel, table=True):
    """A member of operations staff: role, head office (branch None) or one branch, hashed secret."""

    __tablename__ = "operator"

    operator_id: str = Field(primary_key=True, max_length=40)
    role: str = Field(max_length=20)
    branch: str | None = Field(default=None, max_length=40)
    secret_hash: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class SigningKey(SQLModel, table=True):
    """A token signing key pair; retired keys stay published until not_after (the overlap)."""

    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=40)
    private_pem: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    retired_at: datetime | None = Field(default=None)
    not_after: datetime | None = Field(default=None)


class Customer(SQLModel, table=True):
    """A bank customer; `customer_id` never leaves the bank (partners see pairwise ids)."""

    __tablename__ = "customer"

    customer_id: str = Field(primary_key=True, max_length=40)
    assurance_level: int = Field(default=1)
    branch: str = Field(default="", max_length=40)
    editions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    phone_hash: str | None = Field(default=None, max_length=64, index=True)
    phone_masked: str = Field(default="", max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class AppAccount(SQLModel, table=True):
    """An app-local account (app id + the app's own user id) linked to one customer."""

    __tablename__ = "app_account"

    app_id: str = Field(primary_key=True, max_length=40)
    app_user_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=40, index=True)
    linked_at: datetime = Field(default_factory=utcnow)


class UsedAssertion(SQLModel, table=True):
    """Assertion ids already accepted, so that an assertion works once."""

    __tablename__ = "used_assertion"

    app_id: str = Field(primary_key=True, max_length=40)
    jti: str = Field(primary_key=True, max_length=80)
    expires_at: datetime = Field(index=True)


class SessionFamily(SQLModel, table=True):
    """A sign-in session of one customer in one app; its refresh tokens rotate inside it."""

    __tablename__ = "session_family"

    family_id: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(max_length=40, index=True)
    app_id: str = Field(max_length=40)
    app_user_id: str = Field(max_length=64)
    assurance_level: int = Field(default=1)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actor_app_id: str = Field(default="", max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = Field(default=None)
    revoked_reason: str = Field(default="", max_length=40)


class RefreshToken(SQLModel, table=True):
    """One refresh token (stored as a hash); using it twice revokes its whole family."""

    __tablename__ = "refresh_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    family_id: str = Field(max_length=40, index=True)
    access_jti: str = Field(max_length=40, index=True)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)


class RecognitionTicket(SQLModel, table=True):
    """A one-time ticket for a sibling app: audience-bound, single use, short-lived (stored hashed)."""

    __tablename__ = "recognition_ticket"

    ticket_hash: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=40, index=True)
    from_app_id: str = Field(max_length=40)
    to_app_id: str = Field(max_length=40)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    assurance_level: int = Field(default=1)
    expires_at: datetime
    redeemed_at: datetime | None = Field(default=None)


class Consent(SQLModel, table=True):
    """A separate, recorded consent to share identity with a partner or another legal entity's app."""

    __tablename__ = "consent"

    consent_id: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(max_length=40, index=True)
    recipient_type: str = Field(max_length=10)  # app | partner
    recipient: str = Field(max_length=40)
    purpose: str = Field(max_length=100)
    data_categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    text_version: str = Field(max_length=40)
    granted_in_app_id: str = Field(max_length=40)
    granted_at: datetime = Field(default_factory=utcnow)
    withdrawn_at: datetime | None = Field(default=None)


class PartnerBinding(SQLModel, table=True):
    """A partner's request to bind one of its users; the customer confirms it in a bank app."""

    __tablename__ = "partner_binding"

    binding_id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40, index=True)
    partner_user_ref: str = Field(max_length=100)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    required_assurance_level: int = Field(default=2)
    status: str = Field(default="pending", max_length=20)
    customer_id: str | None = Field(default=None, max_length=40)
    consent_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class PartnerLink(SQLModel, table=True):
    """A customer bound to a partner under a pairwise id; tombstoned (removed_at) on unbind/withdrawal."""

    __tablename__ = "partner_link"
    __table_args__ = (
        Index("ix_partner_link_pairwise", "partner_id", "pairwise_id"),
        Index(
            "uq_partner_link_active",
            "partner_id",
            "customer_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    link_id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    pairwise_id: str = Field(max_length=60)
    customer_id: str = Field(max_length=40, index=True)
    consent_id: str = Field(max_length=40)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    linked_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = Field(default=None)
    removed_reason: str = Field(default="", max_length=40)


class AdminChange(SQLModel, table=True):
    """One change to the registry by operations staff (apps, partners, operators, keys): the audit trail
    of identity, written in the same transaction as the change."""

    __tablename__ = "admin_change"
    __table_args__ = (Index("ix_admin_change_at_id", "at", "change_id"),)

    change_id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    operator_id: str = Field(max_length=40)  # "tools" for the platform's own loaders (demo data)
    operator_branch: str = Field(default="", max_length=40)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=120)
    branch: str = Field(default="", max_length=40)  # whose object: "" head office, else the branch
    detail: str = Field(default="", max_length=500)
