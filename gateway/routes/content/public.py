"""Response bodies of the content routes, filled from content's protobuf messages by
services.runtime.proto_mapping."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lattice.content.v1 import content_pb2 as pb
from pydantic import BaseModel

from services.runtime.proto_mapping import from_proto


class TextPublic(BaseModel):
    locale: str
    title: str
    body: str


class MediaPublic(BaseModel):
    kind: str
    uri: str
    alt: str


class VariantPublic(BaseModel):
    edition: str
    texts: list[TextPublic]
    media: list[MediaPublic]
    deep_link: str | None


class VersionPublic(BaseModel):
    version: int
    status: str
    author_id: str
    editor_ids: list[str]
    reviewer_id: str | None
    created_at: datetime | None
    variants: list[VariantPublic]


class ItemPublic(BaseModel):
    item_id: str
    type: str
    product_category: str | None
    standard_fallback: bool
    owner_branch: str | None
    published_version: int | None
    status: str
    created_at: datetime | None
    versions: list[VersionPublic]


class SlotPublic(BaseModel):
    slot_key: str
    app_id: str
    position: str
    editions: list[str]
    description: str


class SchedulePublic(BaseModel):
    starts_at: datetime | None
    ends_at: datetime | None
    daily_start: str | None
    daily_end: str | None


class TargetingPublic(BaseModel):
    editions: list[str]
    min_assurance_level: int
    aum_tiers: list[str]
    branches: list[str]
    tags: list[str]


class PlacementPublic(BaseModel):
    placement_id: str
    slot_key: str
    item_id: str
    fallback_item_id: str | None
    priority: int
    weight: int
    schedule: SchedulePublic
    targeting: TargetingPublic
    cap_per_day: int
    owner_branch: str | None
    active: bool


class FindingPublic(BaseModel):
    rule_id: str
    description: str
    severity: str
    overridable: bool
    field: str
    locale: str
    offset: int
    matched_text: str


class ContentAuditPublic(BaseModel):
    action: str
    version: int
    actor_id: str
    actor_role: str
    actor_branch: str | None
    reason: str
    details: dict[str, Any]
    at: datetime | None


def audit_public(e: pb.AuditEntry) -> ContentAuditPublic:
    # the entry's details travel as JSON text in the contract and as an object over HTTP
    return from_proto(ContentAuditPublic, e, details=json.loads(e.details_json or "{}"))


class ItemPage(BaseModel):
    items: list[ItemPublic]
    next_page_token: str | None


class Submitted(BaseModel):
    item: ItemPublic
    findings: list[FindingPublic]


class Compliance(BaseModel):
    version: int
    findings: list[FindingPublic]
