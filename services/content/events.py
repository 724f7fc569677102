"""Content's own events, consumed by every replica to mark the serving snapshots they make stale
(rebuilt in the background while the previous version serves) or, for an archived item, to drop them.

Invalidation must reach *every* replica, so it cannot use a shared durable consumer (replicas would
split the messages between them): each process reads the CONTENT stream through its own ordered,
ephemeral JetStream consumer, from new messages on (the ordered consumer recreates itself after a gap).
Snapshots also expire after five minutes, which bounds staleness should a replica still miss one.
"""

from __future__ import annotations

import logging

from google.protobuf.message import DecodeError
from lattice.content.v1 import events_pb2
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from services.content.review import ITEM_ARCHIVED, ITEM_PUBLISHED
from services.content.slot_cache import SlotCache
from services.content.slots import PLACEMENT_CHANGED
from services.runtime.bus import Bus, when_jetstream_answers

logger = logging.getLogger(__name__)
SUBJECTS = "content.>"


def apply_event(cache: SlotCache, *, subject: str, data: bytes) -> None:
    """Mark the snapshots an event makes stale (drop them on a withdrawal); an unreadable event drops all."""
    try:
        if subject == PLACEMENT_CHANGED:
            cache.invalidate_slot(events_pb2.PlacementChanged.FromString(data).slot_key)
        elif subject == ITEM_PUBLISHED:
            cache.invalidate_item(events_pb2.ItemPublished.FromString(data).item_id)
        elif subject == ITEM_ARCHIVED:
            cache.invalidate_item(events_pb2.ItemArchived.FromString(data).item_id, withdrawn=True)
    except DecodeError:
        logger.warning("unreadable event on %s; dropping every serving snapshot", subject)
        cache.clear()


async def watch_content_events(bus: Bus, cache: SlotCache) -> None:
    """Subscribe this process to content events for cache invalidation."""

    async def on_message(msg: Msg) -> None:
        apply_event(cache, subject=msg.subject, data=msg.data)

    await when_jetstream_answers(
        "content's cache watch",
        lambda: bus.js.subscribe(
            SUBJECTS,
            cb=on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            inactive_threshold=60,
        ),
    )
