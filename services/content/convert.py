"""Protobuf <-> domain conversions for the content API."""

from __future__ import annotations

import json
from typing import Any

from lattice.content.v1 import content_pb2 as pb

from services.content.catalogue import Actor
from services.content.models import AuditEntry, ContentItem, ItemVersion, Placement, ResourceSlot
from services.content.rendering import Rendered
from services.content.serving import Viewer
from services.content.slots import PlacementSpec
from services.runtime.clock import from_timestamp, to_timestamp
from services.runtime.compliance import Finding
from services.runtime.errors import InvalidInput

MAX_VARIANTS = 6


def actor_from_pb(actor: pb.Actor) -> Actor:
    if not actor.operator_id or not actor.role:
        raise InvalidInput("actor_required", "operator calls name the acting operator and role")
    return Actor(operator_id=actor.operator_id, role=actor.role, branch=actor.branch)


def variants_from_pb(variants: Any) -> dict[str, Any]:
    if len(variants) > MAX_VARIANTS:
        raise InvalidInput("too_many_variants", f"at most {MAX_VARIANTS} variants")
    result: dict[str, Any] = {}
    for v in variants:
        if v.edition in result:
            raise InvalidInput("duplicate_variant", f"edition {v.edition} appears twice")
        texts = {t.locale: {"title": t.title, "body": t.body} for t in v.texts}
        if len(texts) != len(v.texts):
            raise InvalidInput("duplicate_locale", f"variant {v.edition} repeats a locale")
        result[v.edition] = {
            "texts": texts,
            "media": [{"kind": m.kind, "uri": m.uri, "alt": m.alt} for m in v.media],
            "deep_link": v.deep_link,
        }
    return result


def variants_to_pb(variants: dict[str, Any]) -> list[pb.Variant]:
    return [
        pb.Variant(
            edition=edition,
            texts=[
                pb.LocalizedText(locale=loc, title=t["title"], body=t.get("body", ""))
                for loc, t in sorted(v.get("texts", {}).items())
            ],
            media=[pb.MediaRef(**m) for m in v.get("media", [])],
            deep_link=v.get("deep_link", ""),
        )
        for edition, v in sorted(variants.items())
    ]


def item_to_pb(item: ContentItem, versions: list[ItemVersion] | None = None) -> pb.Item:
    return pb.Item(
        item_id=item.item_id,
        type=item.type,
        product_category=item.product_category,
        standard_fallback=item.standard_fallback,
        owner_branch=item.owner_branch,
        published_version=item.published_version,
        status=item.status,
        created_at=to_timestamp(item.created_at),
        versions=[
            pb.ItemVersion(
                version=v.version,
                status=v.status,
                variants=variants_to_pb(v.variants),
                author_id=v.author_id,
                editor_ids=v.editor_ids,
                reviewer_id=v.reviewer_id,
                created_at=to_timestamp(v.created_at),
            )
            for v in versions or []
        ],
    )


def finding_to_pb(f: Finding) -> pb.ComplianceFinding:
    return pb.ComplianceFinding(
        rule_id=f.rule_id,
        description=f.description,
        severity=f.severity,
        overridable=f.overridable,
        field=f.field,
        locale=f.locale,
        offset=f.offset,
        matched_text=f.matched_text,
    )


def audit_to_pb(e: AuditEntry) -> pb.AuditEntry:
    return pb.AuditEntry(
        entity=e.entity,
        entity_id=e.entity_id,
        version=e.version,
        action=e.action,
        actor_id=e.actor_id,
        actor_role=e.actor_role,
        actor_branch=e.actor_branch,
        reason=e.reason,
        details_json=json.dumps(e.details, ensure_ascii=False, sort_keys=True),
        at=to_timestamp(e.at),
    )


def slot_to_pb(s: ResourceSlot) -> pb.Slot:
    return pb.Slot(
        slot_key=s.slot_key,
        app_id=s.app_id,
        position=s.position,
        editions=s.editions,
        description=s.description,
    )


def spec_from_pb(p: pb.Placement) -> PlacementSpec:
    t = p.targeting
    return PlacementSpec(
        slot_key=p.slot_key,
        item_id=p.item_id,
        fallback_item_id=p.fallback_item_id or None,
        priority=p.priority,
        weight=p.weight or 1,
        starts_at=from_timestamp(p.schedule.starts_at),
        ends_at=from_timestamp(p.schedule.ends_at),
        daily_start=p.schedule.daily_start,
        daily_end=p.schedule.daily_end,
        targeting={
            "editions": list(t.editions),
            "min_assurance_level": t.min_assurance_level,
            "aum_tiers": list(t.aum_tiers),
            "branches": list(t.branches),
            "tags": list(t.tags),
        },
        cap_per_day=p.cap_per_day,
    )


def placement_to_pb(p: Placement) -> pb.Placement:
    t = p.targeting
    return pb.Placement(
        placement_id=p.placement_id,
        slot_key=p.slot_key,
        item_id=p.item_id,
        fallback_item_id=p.fallback_item_id or "",
        priority=p.priority,
        weight=p.weight,
        schedule=pb.Schedule(
            starts_at=to_timestamp(p.starts_at) if p.starts_at else None,
            ends_at=to_timestamp(p.ends_at) if p.ends_at else None,
            daily_start=p.daily_start,
            daily_end=p.daily_end,
        ),
        targeting=pb.Targeting(
            editions=t.get("editions", []),
            min_assurance_level=t.get("min_assurance_level", 0),
            aum_tiers=t.get("aum_tiers", []),
            branches=t.get("branches", []),
            tags=t.get("tags", []),
        ),
        cap_per_day=p.cap_per_day,
        owner_branch=p.owner_branch,
        active=p.active,
    )


def viewer_from_pb(v: pb.Viewer) -> Viewer:
    if not v.customer_id:
        raise InvalidInput("viewer_required", "serving needs the signed-in customer")
    return Viewer(
        customer_id=v.customer_id,
        edition=v.edition or "standard",
        assurance_level=v.assurance_level,
        aum_tier=v.aum_tier,
        branch=v.branch,
        tags=frozenset(v.tags),
    )


def rendered_to_pb(r: Rendered) -> pb.RenderedItem:
    return pb.RenderedItem(
        item_id=r.item_id,
        version=r.version,
        type=r.type,
        edition=r.edition,
        locale=r.locale,
        title=r.title,
        body=r.body,
        media=[pb.MediaRef(**m) for m in r.media],
        deep_link=r.deep_link,
    )
