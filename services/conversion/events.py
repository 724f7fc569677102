"""Events conversion consumes: partners, sign-ins and binding withdrawals from identity, clicks, apps'
behaviour events (landings and activity only) and the core banking feed (milestones that pay)."""

from __future__ import annotations

import logging
from functools import partial

from lattice.common.v1 import app_event_pb2, core_milestone_pb2
from lattice.conversion.v1 import events_pb2
from lattice.identity.v1 import events_pb2 as identity_events
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.conversion.clicks import record_click
from services.conversion.config import ConversionSettings
from services.conversion.journeys import (
    ActivityPending,
    note_activity,
    record_behaviour,
    record_landing,
    record_linking,
)
from services.conversion.milestones import CORE_MILESTONE_SUBJECT, FUNNEL_STEP_OF_CORE_KIND
from services.conversion.models import CoreMilestone, PartnerProfile
from services.conversion.notifications import queue_binding_withdrawn
from services.runtime.bus import FETCH_BATCH, Bus, Delivery, Handler
from services.runtime.clock import from_timestamp, utcnow
from services.runtime.exactly_once import idempotent, idempotent_batch
from services.runtime.proto_mapping import from_proto
from services.runtime.write_queue import idempotent as queued

logger = logging.getLogger(__name__)
CLICK_SUBJECT = "conversion.click.recorded"
# clicks come in bursts of independent events: a fetched batch is stored in one transaction (one
# commit and fsync for up to this many clicks), in one savepoint; a click per savepoint only when one
# of them fails (services/runtime/exactly_once.py)
CLICK_FETCH_BATCH = 64
# what conversion applies of identity's events; the others (sessions, consents, keys...) are acked
# without a transaction: nothing to apply, so nothing to remember as processed
IDENTITY_SUBJECTS = frozenset(
    {"identity.customer.recognized", "identity.app_account.linked", "identity.partner_link.removed"}
)
APP_EVENTS_STREAM, APP_EVENTS_DURABLE = "APP_EVENTS", "conversion-app-events"


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

    def identity(self, session: Session, delivery: Delivery, *, activity_settled: bool = False) -> None:
        if delivery.subject == "identity.customer.recognized":
            event: identity_events.CustomerRecognized | identity_events.AppAccountLinked
            event = identity_events.CustomerRecognized.FromString(delivery.data)
            new_customer = False
        elif delivery.subject == "identity.app_account.linked":
            event = identity_events.AppAccountLinked.FromString(delivery.data)
            new_customer = event.new_customer
        elif delivery.subject == "identity.partner_link.removed":
            removed = identity_events.PartnerLinkRemoved.FromString(delivery.data)
            queue_binding_withdrawn(session, event=removed, event_id=delivery.event_id)
            return
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
            activity_settled=activity_settled,
        )

    def app_event(self, session: Session, delivery: Delivery) -> None:
        """A behaviour event: its landing and the customer's activity; it never credits a milestone."""
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
        if event.customer_id:
            note_activity(session, customer_id=event.customer_id, at=at, settings=self.settings)

    def core_milestone(self, session: Session, delivery: Delivery) -> None:
        """A milestone the core banking system recorded: credited once per milestone id, for ever."""
        event = core_milestone_pb2.CoreMilestoneRecorded.FromString(delivery.data)
        step = FUNNEL_STEP_OF_CORE_KIND.get(event.kind)
        if step is None or not event.customer_id:
            return
        if session.get(CoreMilestone, event.milestone_id) is not None:
            return
        at = from_timestamp(event.occurred_at) or utcnow()
        session.add(from_proto(CoreMilestone, event, occurred_at=at))
        record_behaviour(
            session, customer_id=event.customer_id, app_id="", milestone=step, at=at, settings=self.settings
        )


def _after_app_activity(bus: Bus, engine: Engine, appliers: Appliers, durable: str) -> Handler:
    """Sign-ins whose re-engagement depends on app activity wait until the app-event consumer has
    caught up (or, on the last delivery, go ahead with what is known)."""
    first_try = queued(engine, durable, appliers.identity)
    settled = queued(engine, durable, partial(appliers.identity, activity_settled=True))

    async def handle(delivery: Delivery) -> None:
        if delivery.subject not in IDENTITY_SUBJECTS:
            return
        try:
            await first_try(delivery)
        except ActivityPending:
            if delivery.num_delivered < appliers.max_deliver and not await app_events_caught_up():
                raise  # retried with backoff, by when the earlier app events are applied
            await settled(delivery)

    async def app_events_caught_up() -> bool:
        try:
            return await bus.caught_up(stream=APP_EVENTS_STREAM, durable=APP_EVENTS_DURABLE)
        except Exception:  # NATS unreachable for a moment: wait like for a lagging consumer
            logger.warning("could not read the lag of %s", APP_EVENTS_DURABLE, exc_info=True)
            return False

    return handle


async def start_consumers(
    *,
    bus: Bus,
    engine: Engine,
    settings: ConversionSettings,
    max_deliver: int,
    ack_wait_s: float,
) -> None:
    """Durable consumers. What a handler's transaction writes for a loop (an outbox event, a postback
    delivery) wakes that loop when the transaction commits (services/runtime/wakeups.py). Their
    transactions are units of the process's writer queue (services/runtime/write_queue.py): run back
    to back by one writer, not threads waiting on SQLite's file lock."""
    appliers = Appliers(settings, max_deliver)
    consumers: tuple[tuple[str, str, Handler], ...] = (
        (
            "conversion-partners",
            "identity.partner.registered",
            queued(engine, "conversion-partners", apply_partner_registered),
        ),
        ("conversion-clicks", CLICK_SUBJECT, idempotent(engine, "conversion-clicks", appliers.click)),
        (
            "conversion-core-milestones",
            CORE_MILESTONE_SUBJECT,
            queued(engine, "conversion-core-milestones", appliers.core_milestone),
        ),
        # before the identity consumer, which reads this one's lag. Its own transaction (in the
        # writer line): as a queued unit, test_a_sign_in_waits_for_the_app_activity_still_in_the_
        # consumers_backlog failed 3 times in 4 (the backlog not drained within the sign-in's retries)
        (APP_EVENTS_DURABLE, "app.event.>", idempotent(engine, APP_EVENTS_DURABLE, appliers.app_event)),
        (
            "conversion-identity",
            "identity.>",
            _after_app_activity(bus, engine, appliers, "conversion-identity"),
        ),
    )
    for durable, subject, handler in consumers:
        batched = durable == "conversion-clicks"
        await bus.consume(
            durable=durable,
            subject=subject,
            handler=handler,
            max_deliver=max_deliver,
            ack_wait_s=ack_wait_s,
            batch_handler=idempotent_batch(engine, durable, appliers.click) if batched else None,
            fetch_batch=CLICK_FETCH_BATCH if batched else FETCH_BATCH,
        )
