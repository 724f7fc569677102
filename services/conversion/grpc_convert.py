"""Protobuf <-> conversion's tables where the shapes differ; the rest maps field by field by name
through the one mapping (services/runtime/proto_mapping.py)."""

from __future__ import annotations

from typing import Any, TypeVar

from lattice.conversion.v1 import conversion_pb2 as pb
from sqlalchemy import Row

from services.conversion.campaigns import Staff
from services.conversion.models import Campaign, CampaignVersion, PostbackDelivery
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.proto_mapping import from_proto, to_proto


def version_to_pb(c: Campaign, v: CampaignVersion) -> pb.CampaignVersion:
    """A version: the fields it sets, and the campaign as it is once it applies (the campaign's message
    with the version's fields over it, as campaign_review.proposed has it, without building the row)."""
    proposed = to_proto(pb.Campaign, c, **v.changes)
    return to_proto(pb.CampaignVersion, v, fields=sorted(v.changes), proposed=proposed)


def queued_to_pb(row: Row[Any]) -> pb.Campaign:
    """A campaign in the review queue as CAMPAIGN_VIEW_REVIEW_QUEUE has it, from a row of
    campaign_review.QUEUED: only what the inbox shows (who proposed what name when), a fifth of the
    full message and of its cost."""
    pending = pb.CampaignVersion(
        campaign_id=row.campaign_id,
        version=row.version,
        authors=row.authors,
        proposed_at=to_timestamp(row.proposed_at),
        proposed=pb.Campaign(name=row.changes.get("name", row.name)),
    )
    return pb.Campaign(
        campaign_id=row.campaign_id,
        name=row.name,
        branch=row.branch,
        pending_version=row.pending_version,
        pending=pending,
    )


def campaign_from_pb(c: pb.Campaign) -> Campaign:
    """The campaign a request writes (the domain sets its author and review state)."""
    return from_proto(Campaign, c, created_at=utcnow())  # drafted now, whatever the request says


# A delivery in a list, and the answers of the two RPCs about one delivery (the same fields).
Delivery = TypeVar(
    "Delivery", pb.PostbackDelivery, pb.GetPostbackDeliveryResponse, pb.ResendPostbackDeliveryResponse
)


def delivery_to_pb(d: PostbackDelivery, message: type[Delivery]) -> Delivery:
    return to_proto(message, d, type=d.event_type)  # the webhook's type is the row's event_type


def staff_from_pb(actor: pb.Actor) -> Staff:
    """The acting operator; the runtime has checked it against the gateway's assertion."""
    return from_proto(Staff, actor, operator_id=actor.operator_id if actor.kind == "operator" else "")


def branch_of(actor: pb.Actor) -> str:
    """The branch an operator's reads are limited to ("" = head office, or no operator acting)."""
    return actor.branch if actor.kind == "operator" else ""
