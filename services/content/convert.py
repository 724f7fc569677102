"""Protobuf <-> domain for the content API where a message is more than its fields: the checked actor
and viewer, the stored JSON of variants (texts keyed by locale) and placements (the schedule kept flat
in the row), audit details as JSON text. Everything else maps field for field by name through
services.runtime.proto_mapping (from_proto / to_proto) where it is used."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from lattice.content.v1 import content_pb2 as pb

from services.content.catalogue import Actor
from services.content.models import AuditEntry, ContentItem, ItemVersion, Placement
from services.content.serving import Viewer
from services.content.slots import PlacementSpec
from services.runtime.clock import from_timestamp
from services.runtime.errors import InvalidInput
from services.runtime.proto_mapping import from_proto, to_proto

MAX_VARIANTS = 6


class StoredText(TypedDict):
    title: str
    body: str


class StoredMedia(TypedDict):
    kind: str
    uri: str
    alt: str


class StoredVariant(TypedDict):
    """One edition's variant as ItemVersion.variants keeps it (the edition is its key)."""

    texts: dict[str, StoredText]  # by locale
    media: list[StoredMedia]
    deep_link: str


class StoredTargeting(TypedDict):
    """Placement.targeting as the service keeps it: empty lists match everyone."""

    editions: list[str]
    min_assurance_level: int
    aum_tiers: list[str]
    branches: list[str]
    tags: list[str]


def actor_from_pb(actor: pb.Actor) -> Actor:
    if not actor.operator_id or not actor.role:
        raise InvalidInput("actor_required", "operator calls name the acting operator and role")
    return from_proto(Actor, actor)


def variants_from_pb(variants: Any) -> dict[str, Any]:
    if len(variants) > MAX_VARIANTS:
        raise InvalidInput("too_many_variants", f"at most {MAX_VARIANTS} variants")
    result: dict[str, Any] = {}
    for v in variants:
        if v.edition in result:
            raise InvalidInput("duplicate_variant", f"edition {v.edition} appears twice")
        texts = {t.locale: from_proto(StoredText, t) for t in v.texts}
        if len(texts) != len(v.texts):
            raise InvalidInput("duplicate_locale", f"variant {v.edition} repeats a locale")
        result[v.edition] = from_proto(StoredVariant, v, texts=texts)
    return result


def variants_to_pb(variants: dict[str, Any]) -> list[pb.Variant]:
    return [
        to_proto(
            pb.Variant,
            v,
            edition=edition,
            texts=[
                to_proto(pb.LocalizedText, t, locale=loc) for loc, t in sorted(v.get("texts", {}).items())
            ],
        )
        for edition, v in sorted(variants.items())
    ]


def item_to_pb(item: ContentItem, versions: list[ItemVersion] | None = None) -> pb.Item:
    """The item with the versions given (none in lists)."""
    return to_proto(
        pb.Item,
        item,
        versions=[to_proto(pb.ItemVersion, v, variants=variants_to_pb(v.variants)) for v in versions or []],
    )


def audit_to_pb(e: AuditEntry) -> pb.AuditEntry:
    details = json.dumps(e.details, ensure_ascii=False, sort_keys=True)
    return to_proto(pb.AuditEntry, e, details_json=details)


def spec_from_pb(p: pb.Placement) -> PlacementSpec:
    s = p.schedule
    return from_proto(
        PlacementSpec,
        p,
        weight=p.weight or 1,  # proto3 cannot tell an unset weight from 0: the default weight
        starts_at=from_timestamp(s.starts_at),
        ends_at=from_timestamp(s.ends_at),
        daily_start=s.daily_start,
        daily_end=s.daily_end,
        targeting=from_proto(StoredTargeting, p.targeting),
    )


def placement_to_pb(p: Placement) -> pb.Placement:
    return to_proto(pb.Placement, p, schedule=p)  # the row keeps the schedule's fields flat


def viewer_from_pb(v: pb.Viewer, *, customer_id: str = "") -> Viewer:
    """The customer a slot is served to; a preview names a stand-in `customer_id` instead."""
    customer_id = customer_id or v.customer_id
    if not customer_id:
        raise InvalidInput("viewer_required", "serving needs the signed-in customer")
    # an empty edition is the standard one; built field by field: this runs on every serve
    return Viewer(
        customer_id=customer_id,
        edition=v.edition or "standard",
        assurance_level=v.assurance_level,
        aum_tier=v.aum_tier,
        branch=v.branch,
        tags=frozenset(v.tags),
    )
