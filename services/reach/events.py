"""What reach consumes: behaviour events (`app.event.>`) and identity's domain events as triggers."""

from __future__ import annotations

import asyncio

from lattice.common.v1 import app_event_pb2
from lattice.identity.v1 import events_pb2 as identity_events

from services.reach.engine import ReachEngine
from services.reach.inbox import mark_opened
from services.reach.matching import TriggerEvent
from services.runtime.bus import Bus, Delivery
from services.runtime.clock import from_timestamp, utcnow
from services.runtime.proto_mapping import from_proto

APP_EVENTS = "reach-triggers"
IDENTITY_EVENTS = "reach-identity"
OPENED_EVENT = "message_opened"
# Identity subjects that can trigger a strategy (e.g. welcome a newly linked customer).
_IdentityTrigger = (
    identity_events.AppAccountLinked | identity_events.CustomerRecognized | identity_events.PartnerLinkCreated
)
_IDENTITY_TRIGGERS: dict[str, type[_IdentityTrigger]] = {
    "identity.app_account.linked": identity_events.AppAccountLinked,
    "identity.customer.recognized": identity_events.CustomerRecognized,
    "identity.partner_link.created": identity_events.PartnerLinkCreated,
}


def trigger_from_app_event(delivery: Delivery) -> TriggerEvent:
    event = app_event_pb2.AppEvent.FromString(delivery.data)
    # the id the bus delivered it under; an event that carries no time happened now
    return from_proto(
        TriggerEvent,
        event,
        event_id=delivery.event_id,
        occurred_at=from_timestamp(event.occurred_at) or utcnow(),
    )


def trigger_from_identity(delivery: Delivery) -> TriggerEvent | None:
    message_type = _IDENTITY_TRIGGERS.get(delivery.subject)
    if message_type is None:
        return None
    event = message_type.FromString(delivery.data)
    properties: dict[str, str] = {}
    if isinstance(event, identity_events.PartnerLinkCreated):
        properties["partner_id"] = event.partner_id
    elif event.click_id:
        properties["click_id"] = event.click_id
    if isinstance(event, identity_events.AppAccountLinked):
        properties["new_customer"] = str(event.new_customer).lower()
    return TriggerEvent(
        event_id=delivery.event_id,
        customer_id=event.customer_id,
        app_id=getattr(event, "app_id", ""),
        type=delivery.subject,
        occurred_at=from_timestamp(event.occurred_at) or utcnow(),
        properties=properties,
    )


async def start_consumers(*, bus: Bus, reach: ReachEngine, max_deliver: int, ack_wait_s: float) -> None:
    """Durable consumers; replicas of reach share them, so each event is matched by one replica."""

    async def on_app_event(delivery: Delivery) -> None:
        trigger = trigger_from_app_event(delivery)
        if not trigger.customer_id:
            return
        opened = trigger.properties.get("delivery_id") if trigger.type == OPENED_EVENT else None
        if opened:
            await asyncio.to_thread(
                mark_opened,
                engine=reach.engine,
                customer_id=trigger.customer_id,
                app_id=trigger.app_id,
                delivery_id=opened,
                now=utcnow(),
            )
        await reach.handle_event(trigger, consumer=APP_EVENTS)

    async def on_identity_event(delivery: Delivery) -> None:
        trigger = trigger_from_identity(delivery)
        if trigger is not None and trigger.customer_id:
            await reach.handle_event(trigger, consumer=IDENTITY_EVENTS)

    for durable, subject, handler in (
        (APP_EVENTS, "app.event.>", on_app_event),
        (IDENTITY_EVENTS, "identity.>", on_identity_event),
    ):
        await bus.consume(
            durable=durable, subject=subject, handler=handler, max_deliver=max_deliver, ack_wait_s=ack_wait_s
        )
