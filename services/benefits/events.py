"""Events benefits consumes: consent withdrawals stop partner-scene use at once."""

from __future__ import annotations

import logging

from lattice.identity.v1 import events_pb2 as identity_events
from sqlmodel import Session

from services.benefits.models import PartnerBlock
from services.runtime.bus import Delivery
from services.runtime.exactly_once import idempotent
from services.runtime.service import ServiceContext

logger = logging.getLogger(__name__)

CONSENT_WITHDRAWN = "identity.consent.withdrawn"


def apply_consent_withdrawn(session: Session, delivery: Delivery) -> None:
    """Block benefit use in a partner's scenes for a customer who withdrew consent for that partner."""
    event = identity_events.ConsentWithdrawn.FromString(delivery.data)
    if not event.customer_id or not event.recipient:
        return
    if session.get(PartnerBlock, (event.customer_id, event.recipient)) is None:
        session.add(
            PartnerBlock(
                customer_id=event.customer_id, partner_id=event.recipient, consent_id=event.consent_id
            )
        )
    logger.info("partner-scene use stopped for recipient %s", event.recipient)


async def subscribe(ctx: ServiceContext) -> None:
    await ctx.bus.consume(
        durable="benefits-consent-withdrawn",
        subject=CONSENT_WITHDRAWN,
        handler=idempotent(ctx.engine, "benefits-consent-withdrawn", apply_consent_withdrawn),
        max_deliver=ctx.settings.consumer_max_deliver,
        ack_wait_s=ctx.settings.consumer_ack_wait_s,
    )
