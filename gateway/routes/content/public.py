"""Response bodies of the content routes, built from the service's protobuf messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from lattice.content.v1 import content_pb2 as pb
from pydantic import BaseModel

from services.runtime.clock import from_timestamp


def when(ts: Timestamp) -> datetime | None:
    return from_timestamp(ts)


class TextOut(BaseModel):
    locale: str
    title: str
    body: str


class MediaOut(BaseModel):
    kind: str
    uri: str
    alt: str


class VariantOut(BaseModel):
    edition: str
    texts: list[TextOut]
    media: list[MediaOut]
    deep_link: str | None


class VersionOut(BaseModel):
    version: int
    status: str
    author_id: str
    editor_ids: list[str]
    reviewer_id: str | None
    created_at: datetime | None
    variants: list[VariantOut]


class ItemOut(BaseModel):
    item_id: str
    type: str
    product_category: str | None
    standard_fallback: bool
    owner_branch: str | None
    published_version: int | None
    status: str
    created_at: datetime | None
    versions: list[VersionOut]


def media_out(m: pb.MediaRef) -> MediaOut:
    return MediaOut(kind=m.kind, uri=m.uri, alt=m.alt)


def _variant_out(v: pb.Variant) -> VariantOut:
    return VariantOut(
        edition=v.edition,
        texts=[TextOut(locale=t.locale, title=t.title, body=t.body) for t in v.texts],
        media=[media_out(m) for m in v.media],
        deep_link=v.deep_link or None,
    )


def item_out(i: pb.Item) -> ItemOut:
    return ItemOut(
        item_id=i.item_id,
        type=i.type,
        product_category=i.product_category or None,
        standard_fallback=i.standard_fallback,
        owner_branch=i.owner_branch or None,
        published_version=i.published_version or None,
        status=i.status,
        created_at=when(i.created_at),
        versions=[
            VersionOut(
                version=v.version,
                status=v.status,
                author_id=v.author_id,
                editor_ids=list(v.editor_ids),
                reviewer_id=v.reviewer_id or None,
                created_at=when(v.created_at),
                variants=[_variant_out(x) for x in v.variants],
            )
            for v in i.versions
        ],
    )


class SlotOut(BaseModel):
    slot_key: str
    app_id: str
    position: str
    editions: list[str]
    description: str


def slot_out(s: pb.Slot) -> SlotOut:
    return SlotOut(
        slot_key=s.slot_key,
        app_id=s.app_id,
        position=s.position,
        editions=list(s.editions),
        description=s.description,
    )


class ScheduleOut(BaseModel):
    starts_at: datetime | None
    ends_at: datetime | None
    daily_start: str | None
    daily_end: str | None


class TargetingOut(BaseModel):
    editions: list[str]
    min_assurance_level: int
    aum_tiers: list[str]
    branches: list[str]
    tags: list[str]


class PlacementOut(BaseModel):
    placement_id: str
    slot_key: str
    item_id: str
    fallback_item_id: str | None
    priority: int
    weight: int
    schedule: ScheduleOut
    targeting: TargetingOut
    cap_per_day: int
    owner_branch: str | None
    active: bool


def placement_out(p: pb.Placement) -> PlacementOut:
    s, t = p.schedule, p.targeting
    return PlacementOut(
        placement_id=p.placement_id,
        slot_key=p.slot_key,
        item_id=p.item_id,
        fallback_item_id=p.fallback_item_id or None,
        priority=p.priority,
        weight=p.weight,
        schedule=ScheduleOut(
            starts_at=when(s.starts_at),
            ends_at=when(s.ends_at),
            daily_start=s.daily_start or None,
            daily_end=s.daily_end or None,
        ),
        targeting=TargetingOut(
            editions=list(t.editions),
            min_assurance_level=t.min_assurance_level,
            aum_tiers=list(t.aum_tiers),
            branches=list(t.branches),
            tags=list(t.tags),
        ),
        cap_per_day=p.cap_per_day,
        owner_branch=p.owner_branch or None,
        active=p.active,
    )


class FindingOut(BaseModel):
    rule_id: str
    description: str
    severity: str
    overridable: bool
    field: str
    locale: str
    offset: int
    matched_text: str


def finding_out(f: pb.ComplianceFinding) -> FindingOut:
    return FindingOut(
        rule_id=f.rule_id,
        description=f.description,
        severity=f.severity,
        overridable=f.overridable,
        field=f.field,
        locale=f.locale,
        offset=f.offset,
        matched_text=f.matched_text,
    )


class AuditOut(BaseModel):
    action: str
    version: int
    actor_id: str
    actor_role: str
    actor_branch: str | None
    reason: str
    details: dict[str, Any]
    at: datetime | None


def audit_out(e: pb.AuditEntry) -> AuditOut:
    return AuditOut(
        action=e.action,
        version=e.version,
        actor_id=e.actor_id,
        actor_role=e.actor_role,
        actor_branch=e.actor_branch or None,
        reason=e.reason,
        details=json.loads(e.details_json or "{}"),
        at=when(e.at),
    )


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_page_token: str | None


class Submitted(BaseModel):
    item: ItemOut
    findings: list[FindingOut]


class Compliance(BaseModel):
    version: int
    findings: list[FindingOut]
