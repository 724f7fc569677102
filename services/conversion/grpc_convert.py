"""Protobuf <-> conversion's tables."""

from __future__ import annotations

from typing import TypeVar

from lattice.conversion.v1 import conversion_pb2 as pb

from services.conversion import campaign_review
from services.conversion.attribution import COUNTERS
from services.conversion.campaigns import Staff
from services.conversion.models import Campaign, CampaignLink, CampaignVersion, PostbackDelivery
from services.runtime.clock import to_timestamp


def campaign_to_pb(c: Campaign) -> pb.Campaign:
    return pb.Campaign(
        campaign_id=c.campaign_id,
        partner_id=c.partner_id,
        name=c.name,
        branch=c.branch,
        target_app_id=c.target_app_id,
        landing_url=c.landing_url,
        lookback_days=c.lookback_days,
        conversion_window_days=c.conversion_window_days,
        cpa_amount_minor=c.cpa_amount_minor,
        currency=c.currency,
        commission_milestone=c.commission_milestone,
        postback_milestones=c.postback_milestones,
        status=c.status,
        created_at=to_timestamp(c.created_at),
        created_by=c.created_by,
        review_state=c.review_state,
        approved_by=c.approved_by,
        pending_version=c.pending_version,
    )


def version_to_pb(c: Campaign, v: CampaignVersion) -> pb.CampaignVersion:
    return pb.CampaignVersion(
        campaign_id=v.campaign_id,
        version=v.version,
        kind=v.kind,
        fields=sorted(v.changes),
        proposed=campaign_to_pb(campaign_review.proposed(c, v)),
        authors=v.authors,
        state=v.state,
        proposed_at=to_timestamp(v.proposed_at),
        reviewed_by=v.reviewed_by,
        reviewed_at=to_timestamp(v.reviewed_at),
        note=v.note,
    )


def link_to_pb(link: CampaignLink) -> pb.Link:
    return pb.Link(
        link_id=link.link_id,
        campaign_id=link.campaign_id,
        scene=link.scene,
        code=link.code,
        expires_at=to_timestamp(link.expires_at),
        created_at=to_timestamp(link.created_at),
    )


def campaign_from_pb(c: pb.Campaign) -> Campaign:
    return Campaign(
        campaign_id=c.campaign_id,
        partner_id=c.partner_id,
        name=c.name,
        branch=c.branch,
        target_app_id=c.target_app_id,
        landing_url=c.landing_url,
        lookback_days=c.lookback_days,
        conversion_window_days=c.conversion_window_days,
        cpa_amount_minor=c.cpa_amount_minor,
        currency=c.currency,
        commission_milestone=c.commission_milestone,
        postback_milestones=list(c.postback_milestones),
        status=c.status,
        created_by=c.created_by,
    )


# A delivery in a list, and the answers of the two RPCs about one delivery (the same fields).
Delivery = TypeVar(
    "Delivery", pb.PostbackDelivery, pb.GetPostbackDeliveryResponse, pb.ResendPostbackDeliveryResponse
)


def delivery_to_pb(d: PostbackDelivery, message: type[Delivery]) -> Delivery:
    return message(
        delivery_id=d.delivery_id,
        partner_id=d.partner_id,
        campaign_id=d.campaign_id,
        milestone=d.milestone,
        status=d.status,
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=to_timestamp(d.created_at),
        delivered_at=to_timestamp(d.delivered_at),
        type=d.event_type,
    )


def counts_to_pb(values: dict[str, int]) -> pb.FunnelCounts:
    return pb.FunnelCounts(**{name: values[name] for name in COUNTERS})


def staff_from_pb(actor: pb.Actor) -> Staff:
    """The acting operator; the runtime has checked it against the gateway's assertion."""
    return Staff(
        operator_id=actor.operator_id if actor.kind == "operator" else "",
        role=actor.role,
        branch=actor.branch,
    )


def branch_of(actor: pb.Actor) -> str:
    """The branch an operator's reads are limited to ("" = head office, or no operator acting)."""
    return actor.branch if actor.kind == "operator" else ""
