"""The core banking system's client: signs each request with the core system's own key.

with core_banking_client(gateway_url) as core:
    core.record_milestones([milestone("first_transaction", customer_id)])
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.core_banking import DEMO_KEY_ID, DEMO_SECRET, DEMO_SYSTEM_ID, core_canonical_request
from gateway.policies.signing import sign


class CoreBankingSigner:
    """The five X-Lattice-* headers of one request signed with a core banking key."""

    def __init__(
        self,
        *,
        system_id: str = DEMO_SYSTEM_ID,
        key_id: str = DEMO_KEY_ID,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.system_id = system_id
        self.key_id = key_id
        self._secret = secret if secret is not None else base64.b64decode(DEMO_SECRET)
        self._clock = clock

    def headers(
        self, *, method: str, path: str, body: bytes, timestamp: int | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        timestamp = int(self._clock()) if timestamp is None else timestamp
        nonce = nonce or secrets.token_urlsafe(18)
        canonical = core_canonical_request(
            method=method,
            raw_path=path,
            raw_query="",
            partner_id=self.system_id,
            key_id=self.key_id,
            timestamp=timestamp,
            nonce=nonce,
            body=body,
        )
        return {
            "X-Lattice-System": self.system_id,
            "X-Lattice-Key-Id": self.key_id,
            "X-Lattice-Timestamp": str(timestamp),
            "X-Lattice-Nonce": nonce,
            "X-Lattice-Signature": base64.b64encode(sign(self._secret, canonical)).decode("ascii"),
        }


def milestone(
    kind: str,
    customer_id: str,
    *,
    at: datetime | None = None,
    tier: str | None = None,
    milestone_id: str = "",
) -> dict[str, Any]:
    """One milestone record as the core system sends it (a tier for aum_tier_upgraded)."""
    record: dict[str, Any] = {
        "milestone_id": milestone_id or f"cbs-{uuid.uuid4().hex}",
        "kind": kind,
        "customer_id": customer_id,
        "occurred_at": (at or datetime.now(UTC)).isoformat(),
    }
    if kind == "aum_tier_upgraded":
        record["tier"] = tier or "affluent"
    return record


class CoreBankingClient:
    """The core banking system's feed to the gateway (`/v1/core/...`)."""

    def __init__(self, *, base_url: str, signer: CoreBankingSigner | None = None, timeout_s: float = 10.0):
        self.signer = signer or CoreBankingSigner()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def post(
        self, path: str, json_body: Any, *, headers: Mapping[str, str] | None = None, **signing: Any
    ) -> httpx.Response:
        body = json.dumps(json_body, separators=(",", ":")).encode()
        signed = self.signer.headers(method="POST", path=path, body=body, **signing)
        extra = {"Content-Type": "application/json", **signed, **(headers or {})}
        return self._http.post(path, content=body, headers=extra)

    def record_milestones(self, milestones: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
        return self.post("/v1/core/milestones", {"milestones": milestones}, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoreBankingClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def core_banking_client(gateway: httpx.Client | str) -> CoreBankingClient:
    """The demo core banking system, signing with its demo key."""
    base = gateway if isinstance(gateway, str) else str(gateway.base_url)
    return CoreBankingClient(base_url=base)
