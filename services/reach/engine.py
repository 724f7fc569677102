"""The reach engine: events in, deliveries out, under the delivery rules; the transport-free core.

Every step takes `now`, so tests drive it with a controlled clock; the service passes the wall clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from lattice.reach.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.reach import counters, dispatch, profiles
from services.reach.dispatch import SendPlan
from services.reach.matching import TriggerEvent, cached_spec, match_event
from services.reach.models import AudienceProfile, Delivery, InboxMessage, ProviderDelivery, Strategy
from services.reach.policy import get_policy
from services.reach.ports import PeersPort, Rendered, grant_idempotency_key
from services.reach.touchpoints import Handoff, Provider, ProviderError, message_payload
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Unavailable
from services.runtime.outbox import ProcessedMessage, record_event

logger = logging.getLogger(__name__)
# A Do action (the benefit grant) is retried on every scheduler pass while benefits cannot answer, for
# this long after the message was delivered; counting attempts instead gave up within seconds of an
# outage (two benefits replicas restarting on a loaded machine outlasted ten quick passes).
ACTION_RETRY_WINDOW = timedelta(hours=1)
MAX_SEND_ATTEMPTS = 5


class ReachEngine:
    """Matches events to strategies, dispatches deliveries and runs the strategies' actions."""

    def __init__(
        self,
        *,
        engine: Engine,
        peers: PeersPort,
        providers: dict[str, Provider],
        notify: Callable[[], None] = lambda: None,
        retry_delay: timedelta = timedelta(seconds=30),
    ) -> None:
        self.engine = engine
        self._peers = peers
        self._providers = providers
        self._notify = notify
        self._retry_delay = retry_delay

    async def handle_event(
        self, event: TriggerEvent, *, consumer: str, now: datetime | None = None
    ) -> list[str]:
        """Apply one event exactly once (per consumer) and dispatch the deliveries it created."""
        now = now or utcnow()
        attributes_due = await asyncio.to_thread(self._attributes_due, event.customer_id, now)
        attributes = await self._peers.customer_attributes(event.customer_id) if attributes_due else None
        due = await asyncio.to_thread(self._apply_event, event, consumer, attributes_due, attributes, now)
        for delivery_id in due:
            await self.dispatch(delivery_id, now=now)
        return due

    def _attributes_due(self, customer_id: str, now: datetime) -> bool:
        with read_session(self.engine) as session:
            return profiles.needs_attributes(session.get(AudienceProfile, customer_id), now=now)

    def _apply_event(self, event, consumer, attributes_due, attributes, now) -> list[str]:  # type: ignore[no-untyped-def]  # mirrors handle_event's arguments; a TriggerEvent and optional attributes
        with transaction(self.engine) as session:
            if session.get(ProcessedMessage, (consumer, event.event_id)) is not None:
                return []
            session.add(ProcessedMessage(consumer=consumer, event_id=event.event_id, processed_at=now))
            if attributes_due:
                profiles.apply_attributes(session, attributes, customer_id=event.customer_id, now=now)
            return match_event(session, event=event, now=now)

    async def dispatch(self, delivery_id: str, *, now: datetime | None = None) -> str:
        """Take a due delivery through the rules and, if it may go, send it; returns its status."""
        now = now or utcnow()
        try:
            partner_ids = await self._partner_ids(delivery_id)
        except Unavailable as exc:
            return await asyncio.to_thread(self._postpone, delivery_id, exc.reason, now)
        plan = await asyncio.to_thread(self._claim, delivery_id, now, partner_ids)
        if plan is None:
            return await asyncio.to_thread(self._status, delivery_id)
        await self._throttle(plan.touchpoint.channel)
        try:
            message = await self._peers.render(
                plan.spec.content,
                edition=plan.edition,
                variables=dict(plan.variables),
                deep_link=plan.spec.deep_link,
            )
            handoff = None
            if plan.touchpoint.channel != "inbox":
                handoff = await self._providers[plan.touchpoint.channel].send(plan, message)
        except (Unavailable, ProviderError) as exc:
            retryable = isinstance(exc, Unavailable) or exc.retryable
            reason = exc.reason
            logger.warning("delivery %s not sent: %s", plan.delivery_id, reason)
            return await asyncio.to_thread(self._retry_or_fail, plan.delivery_id, reason, retryable, now)
        await asyncio.to_thread(self._record_delivered, plan, message, handoff, now)
        self._notify()
        if plan.spec.benefit_id:
            await self.run_action(plan.delivery_id, now=now)
        return "delivered"

    async def _partner_ids(self, delivery_id: str) -> dict[str, str]:
        """Pairwise ids of the partners this delivery may go through (looked up before the claim)."""
        with read_session(self.engine) as session:
            delivery = session.get(Delivery, delivery_id)
            strategy = session.get(Strategy, delivery.strategy_id) if delivery else None
            if delivery is None or strategy is None:
                return {}
            partners = [t.partner_id for t in cached_spec(strategy).touchpoints if t.channel == "partner"]
            customer_id = delivery.customer_id
        return {p: await self._peers.pairwise_id(partner_id=p, customer_id=customer_id) for p in partners}

    def _claim(self, delivery_id: str, now: datetime, partner_ids: dict[str, str]) -> SendPlan | None:
        with transaction(self.engine) as session:
            return dispatch.claim(session, delivery_id=delivery_id, now=now, partner_ids=partner_ids)

    def _postpone(self, delivery_id: str, reason: str, now: datetime) -> str:
        with transaction(self.engine) as session:
            return dispatch.postpone(
                session, delivery_id=delivery_id, reason=reason, until=now + self._retry_delay
            )

    def _status(self, delivery_id: str) -> str:
        with read_session(self.engine) as session:
            delivery = session.get(Delivery, delivery_id)
            return delivery.status if delivery else "unknown"

    async def _throttle(self, channel: str) -> None:
        """The channel's send-rate limit, across every replica: wait for a free slot in a one-second
        window counted in the database (it waits, it never drops)."""
        rate = (await asyncio.to_thread(get_policy, engine=self.engine)).rule(channel).rate_per_second
        if rate <= 0:
            return
        while True:
            now = time.time()
            if await asyncio.to_thread(self._take_send_slot, channel, int(now), rate):
                return
            # the window is full: try again in the next second (a little jitter spreads replicas)
            await asyncio.sleep(int(now) + 1 - now + random.uniform(0, 0.02))

    def _take_send_slot(self, channel: str, second: int, rate: int) -> bool:
        with transaction(self.engine) as session:
            return counters.take_send_slot(session, channel=channel, second=second, rate=rate)

    def _retry_or_fail(self, delivery_id: str, reason: str, retryable: bool, now: datetime) -> str:
        with transaction(self.engine) as session:
            attempts = session.get(Delivery, delivery_id).attempts  # type: ignore[union-attr]  # the delivery was claimed in this transaction, so it exists
            retry_in = self._retry_delay * attempts if retryable and attempts < MAX_SEND_ATTEMPTS else None
            delivery = dispatch.finish(
                session, delivery_id=delivery_id, delivered=False, reason=reason, now=now, retry_in=retry_in
            )
            return delivery.status if delivery else "unknown"

    def _record_delivered(
        self, plan: SendPlan, message: Rendered, handoff: Handoff | None, now: datetime
    ) -> None:
        with transaction(self.engine) as session:
            delivery = dispatch.finish(
                session, delivery_id=plan.delivery_id, delivered=True, reason="", now=now, retry_in=None
            )
            if delivery is None:
                return
            if handoff is None:
                _store_inbox(session, plan, message, now)
            elif session.get(ProviderDelivery, plan.delivery_id) is None:
                session.add(
                    ProviderDelivery(
                        delivery_id=plan.delivery_id,
                        channel=plan.touchpoint.channel,
                        provider=handoff.provider,
                        recipient=plan.recipient,
                        partner_id=plan.touchpoint.partner_id,
                        payload=message_payload(plan, message),
                        provider_ref=handoff.provider_ref,
                        created_at=now,
                    )
                )
            record_event(
                session,
                "reach.message.delivered",
                events_pb2.MessageDelivered(
                    delivery_id=plan.delivery_id,
                    strategy_id=plan.strategy_id,
                    customer_id=plan.customer_id,
                    channel=plan.touchpoint.channel,
                    app_id=plan.app_id,
                    occurred_at=to_timestamp(now),
                ),
            )

    async def run_action(self, delivery_id: str, *, now: datetime | None = None) -> str:
        """Do: grant the strategy's benefit for a delivered message, once per trigger."""
        now = now or utcnow()
        with read_session(self.engine) as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != "delivered" or delivery.action_state != "pending":
                return delivery.action_state if delivery else ""
            strategy = session.get(Strategy, delivery.strategy_id)
            assert strategy is not None
            benefit_id = cached_spec(strategy).benefit_id
        outcome = await self._peers.grant_benefit(
            customer_id=delivery.customer_id,
            strategy_id=delivery.strategy_id,
            benefit_id=benefit_id,
            app_id=delivery.app_id,
            idempotency_key=grant_idempotency_key(
                strategy_id=delivery.strategy_id, trigger_key=delivery.trigger_key
            ),
        )
        with transaction(self.engine) as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None
            row.action_attempts += 1
            state = outcome.state
            delivered_at = row.delivered_at or row.sent_at
            if state == "pending" and delivered_at and now - delivered_at > ACTION_RETRY_WINDOW:
                state = "failed:benefits_unavailable"
            row.action_state = state
            session.add(row)
        return state


def _store_inbox(session: Session, plan: SendPlan, message: Rendered, now: datetime) -> None:
    if session.get(InboxMessage, plan.delivery_id) is not None:
        return
    session.add(
        InboxMessage(
            message_id=plan.delivery_id,
            customer_id=plan.customer_id,
            app_id=plan.app_id,
            strategy_id=plan.strategy_id,
            title=message.title,
            body=message.body,
            deep_link=message.deep_link,
            created_at=now,
            expires_at=plan.valid_until,
        )
    )
