"""Sessions identity has ended: the edge refuses their access tokens from then on, not at expiry.

Identity publishes `identity.session.ended` (sign-out everywhere, refresh-token reuse, consent
withdrawn). One durable consumer, shared by the gateway replicas, marks each session in the edge
store (Redis in the compose deployment, the SQLite file otherwise) for as long as any of its access
tokens can live; the app-token policy, here and in Kong's plugin, checks the mark.
"""

from __future__ import annotations

import asyncio
import time

from lattice.identity.v1 import events_pb2

from gateway.policies.store import EdgeStore
from gateway.policies.tokens import MAX_LIFETIME_S, ended_session_key
from services.runtime.bus import Bus, Delivery

SUBJECT = "identity.session.ended"
DURABLE = "gateway-ended-sessions"
# an access token issued just before the session ended lives MAX_LIFETIME_S, plus the clock leeway
_MARK_FOR_S = MAX_LIFETIME_S + 60


def mark_ended(store: EdgeStore, event: events_pb2.SessionsEnded, *, now: float | None = None) -> int:
    """Mark the event's sessions as ended; returns how many marks were still worth writing."""
    remaining = int(event.occurred_at.seconds + _MARK_FOR_S - (time.time() if now is None else now))
    if remaining <= 0:  # every token of these sessions has expired already
        return 0
    for session_id in event.session_ids:
        store.claim_once(ended_session_key(session_id), ttl_s=remaining)
    return len(event.session_ids)


async def follow_ended_sessions(bus: Bus, store: EdgeStore) -> None:
    """Start the consumer that keeps the edge store's ended-session marks."""

    async def handle(delivery: Delivery) -> None:
        event = events_pb2.SessionsEnded.FromString(delivery.data)
        await asyncio.to_thread(mark_ended, store, event)

    await bus.consume(durable=DURABLE, subject=SUBJECT, handler=handle)
