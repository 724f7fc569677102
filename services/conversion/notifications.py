"""Partner notifications: a partner is told, by signed webhook, when a customer's binding to it ends.

Queued in the postback delivery table (same Standard Webhooks signing, retries, dead letters and
delivery records as postbacks); the body is fixed when queued and names the customer only by the
partner's pairwise id, so the partner can delete what it holds about that user.
"""

from __future__ import annotations

import hashlib
import json

from lattice.identity.v1 import events_pb2 as identity_events
from sqlmodel import Session

from services.conversion.models import PostbackDelivery
from services.conversion.postbacks import queue_delivery
from services.runtime.clock import from_timestamp, utcnow

BINDING_WITHDRAWN = "binding.withdrawn"


def queue_binding_withdrawn(
    session: Session, *, event: identity_events.PartnerLinkRemoved, event_id: str
) -> None:
    """One `binding.withdrawn` webhook to the partner whose binding ended (once per identity event)."""
    now = utcnow()
    withdrawn_at = from_timestamp(event.occurred_at) or now
    body = {
        "type": BINDING_WITHDRAWN,
        "timestamp": now.isoformat(),
        "data": {
            "pairwise_id": event.pairwise_id,
            "reason": event.reason,
            "withdrawn_at": withdrawn_at.isoformat(),
        },
    }
    queue_delivery(
        session,
        PostbackDelivery(
            # the identity event's id: one notification per withdrawal, whatever redelivers it
            delivery_id="msg_" + hashlib.sha256(event_id.encode()).hexdigest()[:32],
            event_type=BINDING_WITHDRAWN,
            partner_id=event.partner_id,
            campaign_id="",
            customer_id="",
            milestone="",
            kind=event.reason,
            click_id="",
            occurred_at=withdrawn_at,
            body=json.dumps(body, separators=(",", ":")),
            pairwise_id_included=True,
            created_at=now,
        ),
    )
