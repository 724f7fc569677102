"""Events conversion consumes: partners and sign-ins from identity, clicks, and apps' behaviour events."""

from __future__ import annotations

from collections.abc import Callable

from lattice.common.v1 import app_event_pb2
from lattice.conversion.v1 import events_pb2
from lattice.identity.v1 import events_pb2 as identity_events
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.conversion.clicks import record_click
from services.conversion.config import ConversionSettings
from services.conversion.journeys import note_activity, record_behaviour, record_landing, record_linking
from services.conversion.models import PartnerProfile
from services.runtime.bus import Bus, Delivery, Handler, idempotent
from services.runtime.clock import from_timestamp, utcnow

CLICK_SUBJECT = "conversion.click.recorded"


def apply_partner_registered(session: Session, delivery: Delivery) -> None:
    event = identity_events.PartnerRegistered.FromString(delivery.data)
    profile = session.get(PartnerProfile, event.partner_id) or PartnerProfile(
        partner_id=event.partner_id, name=event.name, registered_at=utcnow()
    )
    profile.name = event.name
    profile.postback_url = event.postback_url
    profile.registered_at = from_timestamp(event.occurred_at) or profile.registered_at
    session.add(profile)


class Appliers:
    """The handlers that need the service's settings (and how many deliveries a message gets)."""

    def __init__(self, settings: ConversionSettings, max_deliver: int) -> None:
        self.settings = settings
        self.max_deliver = max_deliver

    def _wait(self, delivery: Delivery) -> bool:
        # An unknown click may still be on its way; the last delivery goes on without it.
        return delivery.num_delivered < self.max_deliver

    def click(self, session: Session, delivery: Delivery) -> None:
        record_click(
            session, event=events_pb2.ClickRecorded.FromString(delivery.data), settings=self.settings
        )

    def identity(self, session: Session, delivery: Delivery) -> None:
        if delivery.subject == "identity.customer.recognized":
            event = identity_events.CustomerRecognized.FromString(delivery.data)
            new_customer = False
        elif delivery.subject == "identity.app_account.linked":
            event = identity_events.AppAccountLinked.FromString(delivery.data)
            new_customer = event.new_customer
        else:
            return
        record_linking(
            session,
            customer_id=event.customer_id,
            app_id=event.app_id,
            click_id=event.click_id,
            new_customer=new_customer,
            at=from_timestamp(event.occurred_at) or utcnow(),
            wait_for_click=self._wait(delivery),
            settings=self.settings,
        )

    def app_event(self, session: Session, delivery: Delivery) -> None:
        event = app_event_pb2.AppEvent.FromString(delivery.data)
        at = from_timestamp(event.occurred_at) or utcnow()
        if event.click_id:
            record_landing(
                session,
                click_id=event.click_id,
                customer_id=event.customer_id,
                app_id=event.app_id,
                at=at,
                wait_for_click=self._wait(delivery),
            )
        if not event.customer_id:
            return
        if event.type in self.settings.activation_event_types:
            record_behaviour(
                session,
                customer_id=event.customer_id,
                app_id=event.app_id,
                milestone="activated",
                at=at,
                settings=self.settings,
            )
        elif event.type in self.settings.upgrade_event_types:
            record_behaviour(
                session,
                customer_id=event.customer_id,
                app_id=event.app_id,
                milestone="upgraded",
                at=at,
                settings=self.settings,
            )
        note_activity(session, customer_id=event.customer_id, at=at, settings=self.settings)


def _then(handler: Handler, after: Callable[[], None]) -> Handler:
    async def handle(delivery: Delivery) -> None:
        await handler(delivery)
        after()

    return handle


async def start_consumers(
    *,
    bus: Bus,
    engine: Engine,
    settings: ConversionSettings,
    max_deliver: int,
    ack_wait_s: float,
    on_change: Callable[[], None],
) -> None:
    """Durable consumers; `on_change` wakes the outbox relay and the postback sender after each event."""
    appliers = Appliers(settings, max_deliver)
    consumers = (
        ("conversion-partners", "identity.partner.registered", apply_partner_registered),
        ("conversion-clicks", CLICK_SUBJECT, appliers.click),
        ("conversion-identity", "identity.>", appliers.identity),
        ("conversion-app-events", "app.event.>", appliers.app_event),
    )
    for durable, subject, apply in consumers:
        await bus.consume(
            durable=durable,
            subject=subject,
            handler=_then(idempotent(engine, durable, apply), on_change),
            max_deliver=max_deliver,
            ack_wait_s=ack_wait_s,
        )
