"""Conversion tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from services.runtime.outbox import OutboxEvent, ProcessedMessage  # noqa: F401  (shared tables)


class PartnerProfile(SQLModel, table=True):
    """Conversion's copy of a partner, kept from identity's events (never read from identity's tables)."""

    __tablename__ = "partner_profile"

    partner_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    postback_url: str = Field(default="", max_length=500)
    registered_at: datetime
