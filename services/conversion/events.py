"""Events conversion consumes."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from lattice.identity.v1 import events_pb2 as identity_events
from services.conversion.models import PartnerProfile
from services.runtime.bus import Bus, Delivery, idempotent
from services.runtime.clock import from_timestamp, utcnow


def apply_partner_registered(session: Session, delivery: Delivery) -> None:
    event = identity_events.PartnerRegistered.FromString(delivery.data)
    profile = session.get(PartnerProfile, event.partner_id) or PartnerProfile(
        partner_id=event.partner_id, name=event.name, registered_at=utcnow()
    )
    profile.name = event.name
    profile.postback_url = event.postback_url
    profile.registered_at = from_timestamp(event.occurred_at) or profile.registered_at
    session.add(profile)


async def start_consumers(*, bus: Bus, engine: Engine, max_deliver: int, ack_wait_s: float) -> None:
    await bus.consume(
        durable="conversion-partners",
        subject="identity.partner.registered",
        handler=idempotent(engine, "conversion-partners", apply_partner_registered),
        max_deliver=max_deliver,
        ack_wait_s=ack_wait_s,
    )
