"""Postback delivery, the transport side: signed webhooks (Standard Webhooks) over HTTP.

The pairwise id is included only when identity says the customer's consent for this partner is active
at the time of each attempt. What is due, the bodies and the booking of each attempt are the domain's
(services/conversion/postbacks.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urljoin, urlsplit

import grpc
import httpx
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy.engine import Engine
from standardwebhooks import Webhook

from services.conversion.config import ConversionSettings
from services.conversion.models import PostbackDelivery, PostbackEndpoint
from services.conversion.postbacks import (
    MILESTONE_REACHED,
    POSTBACKS_DUE,
    Attempt,
    LocalSender,
    book_attempt,
    claim_due_in,
    leased_delivery,
    milestone_body,
    next_due_at,
    send_here,
)
from services.runtime.clock import utcnow
from services.runtime.errors import DomainError
from services.runtime.ssrf import check_postback_url
from services.runtime.wakeups import Wakeup, wake_on_commit
from services.runtime.write_queue import write

logger = logging.getLogger(__name__)
# one line per attempt, in the milestone's trace: `grep <trace_id> var/logs/*.log` finds it
postback_log = logging.getLogger("lattice.postbacks")
tracer = trace.get_tracer("lattice.conversion.postbacks")
MAX_REDIRECTS = 3
# due, yet claimed by another sender (a replica) in the same instant: look again after this long
CLAIMED_ELSEWHERE_S = 0.1


class PostbackSender:
    """Claims due deliveries and sends them; one loop per conversion process. Deliveries that this
    process's write units queue are leased to it in their own transaction and handed over once
    committed (`take`): they are sent at once, without a claiming transaction."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: ConversionSettings,
        identity: grpc.aio.Channel,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._identity = identity_pb2_grpc.CustomerServiceStub(identity)
        self._wake = Wakeup()
        wake_on_commit(engine, POSTBACKS_DUE, self._wake)
        self._lease = timedelta(seconds=settings.postback_timeout_s * (MAX_REDIRECTS + 1) + 5)
        self._client: asyncio.Future[httpx.AsyncClient] | None = None
        self._handed: set[asyncio.Task[None]] = set()
        self._reread = False  # woken for a handed delivery's retry: read when it is due, no claim
        send_here(engine, LocalSender(take=self.take, lease=self._lease))

    async def _claim(self) -> list[tuple[PostbackDelivery, PostbackEndpoint | None]]:
        return await write(self._engine, partial(claim_due_in, lease=self._lease))

    def take(self, delivery_id: str) -> None:
        """A delivery this process queued and leased to itself, now committed: send it now. Called
        on the event loop. Should it not be sent (the process stops), its lease ends and it is
        claimed like any other due delivery."""
        task = asyncio.get_running_loop().create_task(self._send_handed(delivery_id))
        self._handed.add(task)
        task.add_done_callback(self._handed.discard)

    async def _send_handed(self, delivery_id: str) -> None:
        if self._client is None:
            self._client = asyncio.get_running_loop().create_future()
        client = await asyncio.shield(self._client)
        try:
            found = await asyncio.to_thread(leased_delivery, engine=self._engine, delivery_id=delivery_id)
            if found is not None and not (await self.deliver(client, *found)).delivered:
                # a retry is due later (or it was dead-lettered): the claiming loop reads when
                self._reread = True
                self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception:  # booked or not, the lease brings it back to the claiming loop
            logger.warning(
                "handed postback %s failed; retried when its lease ends", delivery_id, exc_info=True
            )

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
    ) -> Attempt:
        """One attempt for one delivery, and its bookkeeping: a client span in the trace of what queued
        it, and one log line."""
        started = time.perf_counter()
        with tracer.start_as_current_span(
            "POST postback",
            context=extract(json.loads(delivery.trace_headers or "{}")),
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "lattice.partner_id": delivery.partner_id,
                "lattice.delivery_id": delivery.delivery_id,
                "lattice.attempt": delivery.attempts + 1,
            },
        ) as span:
            attempt = await self._attempt(client, delivery, endpoint)
            span.set_attribute("http.response.status_code", attempt.status)
            if not attempt.delivered:
                span.set_status(Status(StatusCode.ERROR, attempt.error or str(attempt.status)))
            postback_log.info(
                "postback",
                extra={
                    "partner_id": delivery.partner_id,
                    "delivery_id": delivery.delivery_id,
                    "event_type": delivery.event_type,
                    "attempt": delivery.attempts + 1,
                    "status": attempt.status,
                    "error": attempt.error,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            # the delivered event is an outbox row: its commit wakes the relay
            await write(
                self._engine,
                partial(book_attempt, settings=self._settings, delivery=delivery, attempt=attempt),
            )
        return attempt

    async def _attempt(
        self, client: httpx.AsyncClient, delivery: PostbackDelivery, endpoint: PostbackEndpoint | None
    ) -> Attempt:
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
        return attempt

    async def run(self) -> None:
        async with httpx.AsyncClient(
            timeout=self._settings.postback_timeout_s, follow_redirects=False
        ) as client:
            if self._client is None or self._client.done():
                self._client = asyncio.get_running_loop().create_future()
            self._client.set_result(client)
            woken = False
            while True:
                # cleared before looking: a delivery queued during the pass wakes the next one
                self._wake.clear()
                ceiling = self._settings.postback_poll_interval_s
                try:
                    # woken by a commit that queued a delivery: it is due, claim it at once; on the
                    # timer a read first (most find nothing due, and need no write transaction)
                    if woken:
                        wait = 0.0
                    else:
                        wait = _until(await asyncio.to_thread(next_due_at, engine=self._engine), ceiling)
                    if wait == 0:
                        due = await self._claim()
                        await asyncio.gather(*(self.deliver(client, d, e) for d, e in due))
                        if due:
                            woken = False  # look again: the next batch, or the retries just scheduled
                            continue
                        wait = min(ceiling, CLAIMED_ELSEWHERE_S)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.warning("postback pass failed; retrying", exc_info=True)
                    wait = ceiling
                woken = await self._wake.wait(wait)
                if self._reread:
                    self._reread, woken = False, False


def _until(due: datetime | None, ceiling: float) -> float:
    """Seconds to sleep: until the earliest retry or lease end, at most `ceiling` (work queued by
    another process that stopped before sending it)."""
    if due is None:
        return ceiling
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return min(max((due - utcnow()).total_seconds(), 0.0), ceiling)
