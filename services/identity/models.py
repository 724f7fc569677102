"""Identity tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import JSON, Column, Field, SQLModel

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


class Partner(SQLModel, table=True):
    """An external platform that sends traffic (ride-hailing, food delivery, e-commerce...)."""

    __tablename__ = "partner"

    partner_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    sector: str = Field(max_length=40)
    allowed_scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    postback_url: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
