"""Operators send a dead-lettered postback again, with a reason kept as its audit record."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import Engine

from services.conversion.campaigns import Staff
from services.conversion.models import Campaign, PostbackDelivery, PostbackResend
from services.conversion.postbacks import POSTBACKS_DUE
from services.runtime.db import transaction
from services.runtime.errors import Conflict, InvalidInput, NotFound
from services.runtime.wakeups import wake_after_commit

MAX_REASON = 200


def resend(*, engine: Engine, staff: Staff, delivery_id: str, reason: str, now: datetime) -> PostbackDelivery:
    """Queue a dead-lettered delivery for a fresh round of attempts (same webhook-id: partners dedupe)."""
    staff.require("operator")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("reason_required", f"say why it is sent again (1-{MAX_REASON} characters)")
    with transaction(engine) as session:
        delivery = session.get(PostbackDelivery, delivery_id, with_for_update=True)
        campaign = session.get(Campaign, delivery.campaign_id) if delivery is not None else None
        # a branch reaches only its own campaigns' deliveries; notifications without one are head office's
        if delivery is None or (staff.branch and (campaign is None or not staff.reaches(campaign))):
            raise NotFound("delivery_not_found", f"no postback delivery {delivery_id}")
        if delivery.status != "dead_lettered":
            raise Conflict(
                "not_dead_lettered", f"the delivery is {delivery.status}: only dead letters are re-sent"
            )
        session.add(
            PostbackResend(
                resend_id=str(uuid.uuid4()),
                delivery_id=delivery.delivery_id,
                partner_id=delivery.partner_id,
                campaign_id=delivery.campaign_id,
                branch=campaign.branch if campaign is not None else "",
                operator_id=staff.operator_id,
                reason=reason,
                previous_attempts=delivery.attempts,
                previous_status_code=delivery.last_status_code,
                previous_error=delivery.last_error,
                at=now,
            )
        )
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
        session.add(delivery)
        wake_after_commit(session, POSTBACKS_DUE)
    return delivery
