"""Conversion's identity consumer applies sign-ins and binding withdrawals; identity's other events
(bindings made, sessions ended, keys...) cost it no write transaction and leave no processed row."""

from __future__ import annotations

import uuid
from pathlib import Path

from lattice.identity.v1 import events_pb2 as identity_events

from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session
from services.runtime.outbox import ProcessedMessage
from tests.conversion.conftest import eventually, running_conversion, unique

DURABLE = "conversion-identity"


async def test_identity_events_conversion_does_not_apply_are_acked_without_a_transaction(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_conversion(tmp_path, conversion_nats) as conversion:
        customer_id = unique("c")
        ignored, applied = uuid.uuid4().hex, uuid.uuid4().hex
        bound = identity_events.PartnerLinkCreated(
            customer_id=customer_id, partner_id="ride", occurred_at=to_timestamp(utcnow())
        )
        await conversion.publish("identity.partner_link.created", bound, event_id=ignored)
        linked = identity_events.AppAccountLinked(
            customer_id=customer_id, app_id="life", new_customer=True, occurred_at=to_timestamp(utcnow())
        )
        await conversion.publish("identity.app_account.linked", linked, event_id=applied)
        engine = conversion.service.ctx.engine

        async def processed(event_id: str) -> bool:
            with read_session(engine) as session:
                return session.get(ProcessedMessage, (DURABLE, event_id)) is not None

        async def applied_once() -> None:
            assert await processed(applied)

        await eventually(applied_once)  # in order: the binding before it was handled first
        assert not await processed(ignored)
