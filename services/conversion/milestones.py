"""Crediting a milestone: the event on the bus, the counters, and the partner's postback."""

from __future__ import annotations

import uuid
from datetime import datetime

from lattice.conversion.v1 import events_pb2
from sqlmodel import Session

from services.conversion.aggregates import bump
from services.conversion.models import Campaign, FunnelEntry, PostbackDelivery, PostbackEndpoint
from services.conversion.postbacks import queue_delivery
from services.runtime.clock import to_timestamp
from services.runtime.outbox import record_event

MILESTONE_SUBJECT = "conversion.milestone.reached"
CORE_MILESTONE_SUBJECT = "core.milestone.recorded"
# The core banking feed's kinds and the funnel step each one credits. Apps' behaviour events of the
# same names stay for reach and never credit anything.
FUNNEL_STEP_OF_CORE_KIND = {"first_transaction": "activated", "aum_tier_upgraded": "upgraded"}


def announce(
    session: Session,
    *,
    milestone: str,
    customer_id: str,
    at: datetime,
    app_id: str = "",
    kind: str = "",
    partner_id: str = "",
    campaign_id: str = "",
    click_id: str = "",
) -> str:
    """Record conversion.milestone.reached (organic when no partner is credited)."""
    milestone_id = uuid.uuid4().hex
    record_event(
        session,
        MILESTONE_SUBJECT,
        events_pb2.MilestoneReached(
            milestone_id=milestone_id,
            milestone=milestone,
            kind=kind,
            customer_id=customer_id,
            partner_id=partner_id,
            campaign_id=campaign_id,
            click_id=click_id,
            app_id=app_id,
            occurred_at=to_timestamp(at),
        ),
        event_id=milestone_id,
    )
    return milestone_id


def credit(session: Session, *, entry: FunnelEntry, milestone: str, at: datetime, app_id: str) -> None:
    """Credit a funnel entry's step: counters, the event, and a postback when the campaign wants one."""
    counters = {milestone: 1}
    if milestone == "linked":
        counters["acquired" if entry.kind == "acquisition" else "re_engaged"] = 1
    bump(session, partner_id=entry.partner_id, campaign_id=entry.campaign_id, day=entry.day, **counters)
    announce(
        session,
        milestone=milestone,
        customer_id=entry.customer_id,
        at=at,
        app_id=app_id,
        kind=entry.kind,
        partner_id=entry.partner_id,
        campaign_id=entry.campaign_id,
        click_id=entry.click_id,
    )
    campaign = session.get(Campaign, entry.campaign_id)
    if campaign is None or milestone not in campaign.postback_milestones:
        return
    if session.get(PostbackEndpoint, entry.partner_id) is None:
        return
    queue_delivery(
        session,
        PostbackDelivery(
            delivery_id="msg_" + uuid.uuid4().hex,
            partner_id=entry.partner_id,
            campaign_id=entry.campaign_id,
            customer_id=entry.customer_id,
            milestone=milestone,
            kind=entry.kind,
            click_id=entry.click_id,
            occurred_at=at,
        ),
    )
