"""Keys identity revoked in an emergency: the edge refuses them within a second, not when caches expire.

Identity publishes `identity.partner_key.revoked` (a partner key rotated with no overlap) and
`identity.signing_key.withdrawn` (a token signing key rotated with no overlap). One durable consumer,
shared by the gateway replicas, marks the keys in the edge store (Redis in the compose deployment,
the SQLite file otherwise); the partner-signature and token policies, here and in Kong's plugins,
check the marks before their key caches.
"""

from __future__ import annotations

import asyncio
import time

from lattice.identity.v1 import events_pb2

from gateway.policies.partner_signature import revoked_key_key
from gateway.policies.store import EdgeStore
from gateway.policies.tokens import MAX_LIFETIME_S, withdrawn_key_key
from services.runtime.bus import Bus, Delivery

PARTNER_KEY_REVOKED = "identity.partner_key.revoked"
SIGNING_KEY_WITHDRAWN = "identity.signing_key.withdrawn"
# a revoked partner key is gone from identity at once; the mark outlives every edge key cache by far
_PARTNER_MARK_S = 24 * 3600
# tokens of a withdrawn key expire within MAX_LIFETIME_S, plus the clock leeway
_SIGNING_MARK_S = MAX_LIFETIME_S + 60


def mark_partner_keys(store: EdgeStore, event: events_pb2.PartnerKeyRevoked) -> None:
    """Mark each revoked key of the partner."""
    for key_id in event.key_ids:
        store.claim_once(revoked_key_key(event.partner_id, key_id), ttl_s=_PARTNER_MARK_S)


def mark_signing_key(
    store: EdgeStore, event: events_pb2.SigningKeyWithdrawn, *, now: float | None = None
) -> None:
    """Mark the withdrawn signing key while tokens it signed can still be unexpired."""
    remaining = int(event.occurred_at.seconds + _SIGNING_MARK_S - (time.time() if now is None else now))
    if remaining > 0:
        store.claim_once(withdrawn_key_key(event.kid), ttl_s=remaining)


async def follow_revoked_keys(bus: Bus, store: EdgeStore) -> None:
    """Start the consumers that keep the edge store's revoked-key marks."""

    async def partner_key_revoked(delivery: Delivery) -> None:
        event = events_pb2.PartnerKeyRevoked.FromString(delivery.data)
        await asyncio.to_thread(mark_partner_keys, store, event)

    async def signing_key_withdrawn(delivery: Delivery) -> None:
        event = events_pb2.SigningKeyWithdrawn.FromString(delivery.data)
        await asyncio.to_thread(mark_signing_key, store, event)

    await bus.consume(
        durable="gateway-revoked-partner-keys", subject=PARTNER_KEY_REVOKED, handler=partner_key_revoked
    )
    await bus.consume(
        durable="gateway-withdrawn-signing-keys", subject=SIGNING_KEY_WITHDRAWN, handler=signing_key_withdrawn
    )
