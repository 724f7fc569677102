"""Where: provider adapters for push, SMS and partner channels (the inbox is stored by reach itself).

The sandbox provider is the embedded default: it accepts every message and reach records it in
`provider_delivery`. The webhook provider posts each message, HMAC-signed, to a real integration.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Protocol

import httpx

from services.reach.config import ReachSettings
from services.reach.dispatch import SendPlan
from services.reach.ports import Rendered

SIGNATURE_HEADER = "X-Lattice-Signature"
TIMESTAMP_HEADER = "X-Lattice-Timestamp"


@dataclass(frozen=True)
class Handoff:
    """A provider accepted a message."""

    provider: str
    provider_ref: str


class ProviderError(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Provider(Protocol):
    async def send(self, plan: SendPlan, message: Rendered) -> Handoff: ...


class SandboxProvider:
    """Accepts everything; reach records the delivery so tests and demos can read it back."""

    async def send(self, plan: SendPlan, message: Rendered) -> Handoff:
        return Handoff(provider="sandbox", provider_ref=f"sandbox-{plan.delivery_id}")


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """v1=HMAC-SHA256(secret, "<timestamp>.<body>"), as a receiver checks it."""
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def message_payload(plan: SendPlan, message: Rendered) -> dict[str, str]:
    """What a provider receives: a recipient handle (pairwise id for partners), never contact data."""
    return {
        "delivery_id": plan.delivery_id,
        "channel": plan.touchpoint.channel,
        "recipient": plan.recipient,
        "partner_id": plan.touchpoint.partner_id,
        "app_id": plan.app_id,
        "title": message.title,
        "body": message.body,
        "deep_link": message.deep_link,
        "valid_until": plan.valid_until.isoformat(),
    }


class WebhookProvider:
    """Posts each message to an HTTPS endpoint with a signature and the delivery id as idempotency key."""

    def __init__(self, *, url: str, secret: str, client: httpx.AsyncClient) -> None:
        self._url = url
        self._secret = secret.encode()
        self._client = client

    async def send(self, plan: SendPlan, message: Rendered) -> Handoff:
        body = json.dumps(message_payload(plan, message), separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": plan.delivery_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        try:
            resp = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError("provider_unreachable", retryable=True) from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ProviderError(f"provider_http_{resp.status_code}", retryable=True)
        if resp.status_code >= 300:
            raise ProviderError(f"provider_http_{resp.status_code}", retryable=False)
        try:
            ref = str(resp.json().get("id", ""))[:100]
        except ValueError:
            ref = ""
        return Handoff(provider="webhook", provider_ref=ref)


def build_providers(settings: ReachSettings, client: httpx.AsyncClient) -> dict[str, Provider]:
    """Push, SMS and partner channel: a webhook where a URL is configured, else the sandbox."""
    providers: dict[str, Provider] = {}
    for channel in ("push", "sms", "partner"):
        url = settings.webhook_url(channel)
        providers[channel] = (
            WebhookProvider(url=url, secret=settings.webhook_secret, client=client)
            if url
            else SandboxProvider()
        )
    return providers
