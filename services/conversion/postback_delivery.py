"""Postback delivery, the transport side: signed webhooks (Standard Webhooks) over HTTP.

The pairwise id is included only when identity says the customer's consent for this partner is active
at the time of each attempt. What is due, the bodies and the booking of each attempt are the domain's
(services/conversion/postbacks.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import grpc
import httpx
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc
from sqlalchemy.engine import Engine
from standardwebhooks import Webhook

from services.conversion.config import ConversionSettings
from services.conversion.models import PostbackDelivery, PostbackEndpoint
from services.conversion.postbacks import (
    BATCH,
    MILESTONE_REACHED,
    Attempt,
    claim_due,
    milestone_body,
    record_attempt,
)
from services.runtime.clock import utcnow
from services.runtime.errors import DomainError
from services.runtime.ssrf import check_postback_url
from services.runtime.waiting import wake_or_timeout

logger = logging.getLogger(__name__)
MAX_REDIRECTS = 3


class PostbackSender:
    """Claims due deliveries and sends them; one loop per conversion process."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: ConversionSettings,
        identity: grpc.aio.Channel,
        on_event: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._identity = identity_pb2_grpc.IdentityServiceStub(identity)
        self._on_event = on_event
        self._wake = asyncio.Event()
        self._lease = timedelta(seconds=settings.postback_timeout_s * (MAX_REDIRECTS + 1) + 5)

    def notify(self) -> None:
        self._wake.set()

    def _claim(self) -> list[tuple[PostbackDelivery, PostbackEndpoint | None]]:
        return claim_due(engine=self._engine, lease=self._lease)

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
        pairwise_id = await self._pairwise_id(delivery)
        return milestone_body(delivery, pairwise_id), bool(pairwise_id)

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
        if record_attempt(engine=self._engine, settings=self._settings, delivery=delivery, attempt=attempt):
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
