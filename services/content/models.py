"""Content tables: items and their versions, slots, placements, serve counts and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import JSON, Column, Field, SQLModel

from services.runtime.clock import utcnow
from services.runtime.outbox import OutboxEvent, ProcessedMessage  # noqa: F401  (shared tables)


class ContentItem(SQLModel, table=True):
    """An article, product card, banner or notice; `published_version` is the one served."""

    __tablename__ = "content_item"

    item_id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=20)
    product_category: str = Field(default="", max_length=20)
    standard_fallback: bool = True
    owner_branch: str = Field(default="", max_length=40, index=True)
    published_version: int = 0
    status: str = Field(default="active", max_length=10)  # active | archived
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class ItemVersion(SQLModel, table=True):
    """One version of an item's content: variants per edition, each with texts per locale."""

    __tablename__ = "item_version"

    item_id: str = Field(primary_key=True, foreign_key="content_item.item_id", max_length=40)
    version: int = Field(primary_key=True)
    status: str = Field(max_length=12)  # draft | in_review | approved | published | superseded | archived
    # {edition: {"texts": {locale: {"title", "body"}}, "media": [{kind, uri, alt}], "deep_link": str}}
    variants: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author_id: str = Field(max_length=64)
    # Everyone else who changed this version; none of them, nor the author, may approve it.
    editor_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reviewer_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def worked_on_by(self, operator_id: str) -> bool:
        return operator_id == self.author_id or operator_id in self.editor_ids


class ResourceSlot(SQLModel, table=True):
    """A place in an app where content is shown, e.g. `mbank/home/top-banner`."""

    __tablename__ = "resource_slot"

    slot_key: str = Field(primary_key=True, max_length=120)
    app_id: str = Field(max_length=40, index=True)
    position: str = Field(max_length=80)
    editions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Placement(SQLModel, table=True):
    """An item placed in a slot with priority, weight, schedule, targeting and a frequency cap."""

    __tablename__ = "placement"

    placement_id: str = Field(primary_key=True, max_length=40)
    slot_key: str = Field(foreign_key="resource_slot.slot_key", max_length=120, index=True)
    item_id: str = Field(foreign_key="content_item.item_id", max_length=40, index=True)
    fallback_item_id: str | None = Field(default=None, foreign_key="content_item.item_id", max_length=40)
    priority: int = 0
    weight: int = 1
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    daily_start: str = Field(default="", max_length=5)
    daily_end: str = Field(default="", max_length=5)
    # {"editions": [], "min_assurance_level": 0, "aum_tiers": [], "branches": [], "tags": []}
    targeting: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cap_per_day: int = 0
    owner_branch: str = Field(default="", max_length=40)
    active: bool = True
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ServeCount(SQLModel, table=True):
    """How often a capped placement was served to one customer on one day (Asia/Shanghai)."""

    __tablename__ = "serve_count"

    customer_id: str = Field(primary_key=True, max_length=64)
    day: str = Field(primary_key=True, max_length=10)
    placement_id: str = Field(primary_key=True, max_length=40)
    slot_key: str = Field(max_length=120)
    count: int = 0


class AuditEntry(SQLModel, table=True):
    """Who did what to which item, placement or slot, when and why."""

    __tablename__ = "content_audit"

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=12)
    entity_id: str = Field(max_length=120, index=True)
    version: int = 0
    action: str = Field(max_length=30)
    actor_id: str = Field(max_length=64)
    actor_role: str = Field(default="", max_length=20)
    actor_branch: str = Field(default="", max_length=40)
    reason: str = Field(default="", max_length=500)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)
