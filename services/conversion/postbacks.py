"""Postback deliveries, the domain side: claiming due ones, their bodies, booking each attempt, reads.

Retried with exponential backoff on 5xx, 429, timeouts and connection errors under the same
webhook-id; dead-lettered after the last attempt or on another 4xx. Sending (HTTP, identity's consent
answer) is the transport's: services/conversion/postback_delivery.py.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from lattice.conversion.v1 import events_pb2
from opentelemetry.propagate import inject
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign, PostbackDelivery, PostbackEndpoint
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session
from services.runtime.errors import NotFound
from services.runtime.group_commit import write_unit
from services.runtime.outbox import record_event
from services.runtime.paging import read_page
from services.runtime.wakeups import wake_after_commit
from services.runtime.write_queue import after_commit

logger = logging.getLogger(__name__)
BATCH = 20
Due = tuple[PostbackDelivery, PostbackEndpoint | None]  # a delivery to send and where
RETRYABLE_STATUS = {429} | set(range(500, 600))
# other event types (binding.withdrawn, services/conversion/notifications.py) are queued with their body
MILESTONE_REACHED = "conversion.milestone.reached"
# a transaction that queues a delivery (or makes one due again) wakes the sender once it commits
POSTBACKS_DUE = "conversion.postbacks"


@dataclass(frozen=True)
class LocalSender:
    """This process's sender, as the transactions that queue deliveries see it."""

    take: Callable[[str], None]  # called on the event loop with a delivery id once it is committed
    lease: timedelta


_local_senders: weakref.WeakKeyDictionary[Engine, LocalSender] = weakref.WeakKeyDictionary()


def send_here(engine: Engine, sender: LocalSender) -> None:
    """Deliveries queued by this process's write units go straight to `sender` (see queue_delivery)."""
    _local_senders[engine] = sender


def queue_delivery(session: Session, delivery: PostbackDelivery) -> None:
    """Add a delivery in the caller's transaction; the sender sends it as soon as that commits. Its
    attempts join the caller's trace (the milestone's).

    In a unit of the writer queue (services/runtime/write_queue.py) of a process with a sender, the
    delivery is leased to that sender in this same transaction and handed to it after the commit:
    no claiming transaction before the first attempt. Should the process stop before sending it,
    the lease ends and any sender claims it then (never lost; the webhook-id stays the same).
    Elsewhere the commit wakes the sender, which claims it."""
    carrier: dict[str, str] = {}
    inject(carrier)
    delivery.trace_headers = json.dumps(carrier)
    local = _local_senders.get(session.get_bind().engine)
    if local is not None and after_commit(session, partial(local.take, delivery.delivery_id)):
        delivery.next_attempt_at = utcnow() + local.lease
    else:
        wake_after_commit(session, POSTBACKS_DUE)
    session.add(delivery)


def leased_delivery(
    *, engine: Engine, delivery_id: str
) -> tuple[PostbackDelivery, PostbackEndpoint | None] | None:
    """A delivery handed to this process's sender (already leased to it), with its endpoint; None
    when it is no longer pending. A read: no write lock."""
    with read_session(engine) as session:
        delivery = session.get(PostbackDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return None
        return delivery, session.get(PostbackEndpoint, delivery.partner_id)


def next_due_at(*, engine: Engine) -> datetime | None:
    """When the earliest pending delivery is due (a retry's scheduled time, or a lease's end)."""
    with read_session(engine) as session:
        return session.exec(
            select(func.min(PostbackDelivery.next_attempt_at)).where(
                col(PostbackDelivery.status) == "pending"
            )
        ).one()


@dataclass
class Attempt:
    """The outcome of one send: an HTTP status (0 when no answer) and an error text."""

    status: int
    error: str = ""

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status in RETRYABLE_STATUS


def claim_due(*, engine: Engine, lease: timedelta) -> list[Due]:
    """Due deliveries (at most BATCH), leased for `lease` so no other process sends them meanwhile."""
    return write_unit(engine, partial(claim_due_in, lease=lease))


def claim_due_in(
    session: Session, *, lease: timedelta
) -> list[tuple[PostbackDelivery, PostbackEndpoint | None]]:
    """claim_due as a write unit (in the caller's transaction)."""
    now = utcnow()
    stmt = (
        select(PostbackDelivery)
        .where(col(PostbackDelivery.status) == "pending", col(PostbackDelivery.next_attempt_at) <= now)
        .order_by(col(PostbackDelivery.next_attempt_at))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    due = list(session.exec(stmt))
    for delivery in due:
        delivery.next_attempt_at = now + lease
        session.add(delivery)
    return [(d, session.get(PostbackEndpoint, d.partner_id)) for d in due]


def milestone_body(delivery: PostbackDelivery, pairwise_id: str) -> str:
    """The milestone postback's JSON body; the pairwise id only when consent confirmed one."""
    data = {
        "milestone": delivery.milestone,
        "kind": delivery.kind,
        "campaign_id": delivery.campaign_id,
        "click_id": delivery.click_id,
        "occurred_at": delivery.occurred_at.isoformat(),
    }
    if pairwise_id:
        data["pairwise_id"] = pairwise_id
    body = {
        "type": MILESTONE_REACHED,
        "timestamp": delivery.created_at.isoformat(),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"))


def record_attempt(
    *, engine: Engine, settings: ConversionSettings, delivery: PostbackDelivery, attempt: Attempt
) -> bool:
    """Book one attempt: delivered, retried with backoff or dead-lettered; True if an event was recorded."""
    return write_unit(engine, partial(book_attempt, settings=settings, delivery=delivery, attempt=attempt))


def book_attempt(
    session: Session, *, settings: ConversionSettings, delivery: PostbackDelivery, attempt: Attempt
) -> bool:
    """record_attempt as a write unit (in the caller's transaction)."""
    now = utcnow()
    row = session.get(PostbackDelivery, delivery.delivery_id)
    if row is None or row.status != "pending":
        return False
    row.attempts += 1
    row.body = delivery.body
    row.pairwise_id_included = delivery.pairwise_id_included
    row.last_status_code = max(attempt.status, 0)
    row.last_error = attempt.error[:200]
    if attempt.delivered:
        row.status, row.delivered_at = "delivered", now
        record_event(session, "conversion.postback.delivered", _delivered_event(row, now))
    elif attempt.retryable and row.attempts < settings.postback_max_attempts:
        row.next_attempt_at = now + _backoff(settings.postback_backoff_s, row.attempts)
    else:
        row.status = "dead_lettered"
        logger.warning("postback %s to partner %s dead-lettered", row.delivery_id, row.partner_id)
    session.add(row)
    return attempt.delivered


def _backoff(base_s: float, attempts: int) -> timedelta:
    return timedelta(seconds=min(base_s * 2 ** (attempts - 1), 3600))


def _delivered_event(row: PostbackDelivery, now: datetime) -> events_pb2.PostbackDelivered:
    return events_pb2.PostbackDelivered(
        delivery_id=row.delivery_id,
        partner_id=row.partner_id,
        campaign_id=row.campaign_id,
        milestone=row.milestone,
        attempts=row.attempts,
        pairwise_id_included=row.pairwise_id_included,
        occurred_at=to_timestamp(now),
    )


def list_deliveries(
    *, engine: Engine, partner_id: str, status: str, branch: str, size: int, token: str
) -> tuple[list[PostbackDelivery], str]:
    """A page of deliveries, newest first; with `branch`, only those of that branch's campaigns."""
    with read_session(engine) as session:
        stmt = select(PostbackDelivery)
        if partner_id:
            stmt = stmt.where(col(PostbackDelivery.partner_id) == partner_id)
        if branch:
            own = select(Campaign.campaign_id).where(col(Campaign.branch) == branch)
            stmt = stmt.where(col(PostbackDelivery.campaign_id).in_(own))
        if status:
            stmt = stmt.where(col(PostbackDelivery.status) == status)
        order = [(col(PostbackDelivery.created_at), True), (col(PostbackDelivery.delivery_id), True)]
        return read_page(session, stmt, order, token=token, size=size)


def get_delivery(*, engine: Engine, partner_id: str, delivery_id: str) -> PostbackDelivery:
    """One of the partner's own deliveries; another partner's is not found."""
    with read_session(engine) as session:
        delivery = session.get(PostbackDelivery, delivery_id)
    if delivery is None or not partner_id or delivery.partner_id != partner_id:
        raise NotFound("delivery_not_found", f"no postback delivery {delivery_id}")
    return delivery
