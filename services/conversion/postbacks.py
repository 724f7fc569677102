"""Postback delivery: signed webhooks (Standard Webhooks) sent from the delivery table.

Retried with exponential backoff on 5xx, 429, timeouts and connection errors under the same
webhook-id; dead-lettered after the last attempt or on another 4xx. The pairwise id is included only
when identity says the customer's consent for this partner is active at the time of each attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import grpc
import httpx
from lattice.conversion.v1 import events_pb2
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from standardwebhooks import Webhook

from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign, PostbackDelivery, PostbackEndpoint
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import DomainError, NotFound
from services.runtime.outbox import record_event
from services.runtime.ssrf import check_postback_url
from services.runtime.waiting import wake_or_timeout

logger = logging.getLogger(__name__)
MAX_REDIRECTS = 3
BATCH = 20
RETRYABLE_STATUS = {429} | set(range(500, 600))
# other event types (binding.withdrawn, services/conversion/notifications.py) are queued with their body
MILESTONE_REACHED = "conversion.milestone.reached"


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


class PostbackSender:
    """Claims due deliveries and sends them; one loop per conversion process."""

    def __init__(
        self, *, engine: Engine, settings: ConversionSettings, identity: grpc.aio.Channel, on_event
    ) -> None:  # type: ignore[no-untyped-def]
        self._engine = engine
        self._settings = settings
        self._identity = identity_pb2_grpc.IdentityServiceStub(identity)
        self._on_event = on_event
        self._wake = asyncio.Event()
        self._lease = timedelta(seconds=settings.postback_timeout_s * (MAX_REDIRECTS + 1) + 5)

    def notify(self) -> None:
        self._wake.set()

    def _claim(self) -> list[tuple[PostbackDelivery, PostbackEndpoint | None]]:
        now = utcnow()
        with transaction(self._engine) as session:
            stmt = (
                select(PostbackDelivery)
                .where(
                    col(PostbackDelivery.status) == "pending", col(PostbackDelivery.next_attempt_at) <= now
                )
                .order_by(col(PostbackDelivery.next_attempt_at))
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            due = list(session.exec(stmt))
            for delivery in due:
                delivery.next_attempt_at = now + self._lease
                session.add(delivery)
            return [(d, session.get(PostbackEndpoint, d.partner_id)) for d in due]

    async def _pairwise_id(self, delivery: PostbackDelivery) -> str:
        """Identity decides at every send: bound with active consent -> the pairwise id, else none.

        When identity cannot answer, the postback goes without the id: never share what consent
        has not been confirmed for, and never hold a partner's conversion back for it.
        """
        try:
            resp = await self._identity.GetPairwiseId(
                identity_pb2.GetPairwiseIdRequest(
                    partner_id=delivery.partner_id, customer_id=delivery.customer_id
                )
            )
        except grpc.aio.AioRpcError as exc:
            logger.warning(
                "identity did not confirm consent for a postback (%s): sent without id", exc.code().name
            )
            return ""
        return resp.pairwise_id if resp.consent_active else ""

    async def _body(self, delivery: PostbackDelivery) -> tuple[str, bool]:
        data = {
            "milestone": delivery.milestone,
            "kind": delivery.kind,
            "campaign_id": delivery.campaign_id,
            "click_id": delivery.click_id,
            "occurred_at": delivery.occurred_at.isoformat(),
        }
        pairwise_id = await self._pairwise_id(delivery)
        if pairwise_id:
            data["pairwise_id"] = pairwise_id
        body = {
            "type": MILESTONE_REACHED,
            "timestamp": delivery.created_at.isoformat(),
            "data": data,
        }
        return json.dumps(body, separators=(",", ":")), bool(pairwise_id)

    async def _send(
        self, client: httpx.AsyncClient, *, url: str, delivery_id: str, secret: str, body: str
    ) -> Attempt:
        now = utcnow()
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(delivery_id, now, body),
        }
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                address = check_postback_url(url, allowlist=self._settings.postback_allowlist)
            except DomainError as exc:
                return Attempt(-1, exc.reason)
            parts = urlsplit(url)
            host = f"[{address}]" if ":" in address else address
            pinned = parts._replace(netloc=f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}")
            try:
                resp = await client.post(
                    pinned.geturl(),
                    content=body.encode(),
                    headers={**headers, "host": parts.netloc},
                    extensions={"sni_hostname": parts.hostname},
                )
            except httpx.TimeoutException:
                return Attempt(0, "timeout")
            except httpx.TransportError as exc:
                return Attempt(0, type(exc).__name__)
            if resp.is_redirect and "location" in resp.headers:
                url = urljoin(url, resp.headers["location"])
                continue
            return Attempt(resp.status_code)
        return Attempt(-1, "too_many_redirects")

    async def deliver(
        self, client: httpx.AsyncClient, delivery: PostbackDelivery, endpoint: PostbackEndpoint | None
    ) -> None:
        """One attempt for one delivery, and its bookkeeping."""
        if endpoint is None:
            attempt = Attempt(-1, "no_endpoint")
        else:
            try:
                if delivery.event_type == MILESTONE_REACHED:
                    # consent is checked again on every attempt: a withdrawal stops the pairwise id at once
                    delivery.body, delivery.pairwise_id_included = await self._body(delivery)
                attempt = await self._send(
                    client,
                    url=endpoint.url,
                    delivery_id=delivery.delivery_id,
                    secret=endpoint.secret,
                    body=delivery.body or "",
                )
            except grpc.aio.AioRpcError as exc:
                # Without identity's answer the pairwise id cannot be checked: try again later.
                delivery.body = None
                attempt = Attempt(0, f"identity_{exc.code().name.lower()}")
        await asyncio.to_thread(self._record, delivery, attempt)

    def _record(self, delivery: PostbackDelivery, attempt: Attempt) -> None:
        now = utcnow()
        with transaction(self._engine) as session:
            row = session.get(PostbackDelivery, delivery.delivery_id)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.body = delivery.body
            row.pairwise_id_included = delivery.pairwise_id_included
            row.last_status_code = max(attempt.status, 0)
            row.last_error = attempt.error[:200]
            if attempt.delivered:
                row.status, row.delivered_at = "delivered", now
                record_event(session, "conversion.postback.delivered", _delivered_event(row, now))
            elif attempt.retryable and row.attempts < self._settings.postback_max_attempts:
                row.next_attempt_at = now + _backoff(self._settings.postback_backoff_s, row.attempts)
            else:
                row.status = "dead_lettered"
                logger.warning("postback %s to partner %s dead-lettered", row.delivery_id, row.partner_id)
            session.add(row)
        if attempt.delivered:
            self._on_event()

    async def run(self) -> None:
        async with httpx.AsyncClient(
            timeout=self._settings.postback_timeout_s, follow_redirects=False
        ) as client:
            while True:
                try:
                    due = await asyncio.to_thread(self._claim)
                    await asyncio.gather(*(self.deliver(client, d, e) for d, e in due))
                    if len(due) == BATCH:
                        continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.warning("postback pass failed; retrying", exc_info=True)
                self._wake.clear()
                await wake_or_timeout(self._wake, self._settings.postback_poll_interval_s)


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
    *, engine: Engine, partner_id: str, status: str, branch: str, limit: int
) -> list[PostbackDelivery]:
    """Deliveries, newest first; with `branch`, only those of that branch's campaigns."""
    with read_session(engine) as session:
        stmt = select(PostbackDelivery)
        if partner_id:
            stmt = stmt.where(col(PostbackDelivery.partner_id) == partner_id)
        if branch:
            own = select(Campaign.campaign_id).where(col(Campaign.branch) == branch)
            stmt = stmt.where(col(PostbackDelivery.campaign_id).in_(own))
        if status:
            stmt = stmt.where(col(PostbackDelivery.status) == status)
        return list(session.exec(stmt.order_by(col(PostbackDelivery.created_at).desc()).limit(limit)))


def get_delivery(*, engine: Engine, partner_id: str, delivery_id: str) -> PostbackDelivery:
    """One of the partner's own deliveries; another partner's is not found."""
    with read_session(engine) as session:
        delivery = session.get(PostbackDelivery, delivery_id)
    if delivery is None or not partner_id or delivery.partner_id != partner_id:
        raise NotFound("delivery_not_found", f"no postback delivery {delivery_id}")
    return delivery
