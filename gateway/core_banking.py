"""The core banking system as a caller: its own signed credentials, replay protection and rate limit.

Milestones that pay partners come only from this server-to-server feed. The core system signs every
request with HMAC-SHA256 exactly like partners do (timestamp window, one-time nonce, SHA-256 of the
raw body; gateway/policies/signing.py) but under its own scheme name, headers and keys, so no
partner or app credential can ever verify here. HMAC rather than RFC 7523 JWTs: the signature
covers the body bytes (a bearer JWT would not), and it reuses the edge's proven verifier and its
shared nonce store, which every gateway replica already consults.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.edge import edge_request
from gateway.openapi_marks import documents
from gateway.policies.denial import PolicyDenied, unauthenticated
from gateway.policies.signing import (
    SCHEME,
    EdgeRequest,
    canonical_request,
    decode_signature,
    signature_matches,
)
from gateway.policies.store import EdgeStore
from gateway.problems import Problem
from gateway.ratelimit import RateLimiter

CORE_SCHEME = "LATTICE-CORE-HMAC-SHA256"
SYSTEM_HEADER = "x-lattice-system"
KEY_ID_HEADER = "x-lattice-key-id"
TIMESTAMP_HEADER = "x-lattice-timestamp"
NONCE_HEADER = "x-lattice-nonce"
SIGNATURE_HEADER = "x-lattice-signature"
# The demo key `make run` and the tests use; refused when ENVIRONMENT=production.
DEMO_SYSTEM_ID = "core"
DEMO_KEY_ID = "core-demo-k1"
DEMO_SECRET = base64.b64encode(b"lattice-demo-core-banking-key-01").decode()
_SHAPES = {
    SYSTEM_HEADER: re.compile(r"^[a-z][a-z0-9_-]{1,39}$"),
    KEY_ID_HEADER: re.compile(r"^[A-Za-z0-9_.-]{1,64}$"),
    TIMESTAMP_HEADER: re.compile(r"^[0-9]{1,12}$"),
    NONCE_HEADER: re.compile(r"^[A-Za-z0-9_-]{16,64}$"),
}


class CoreBankingSettings(BaseSettings):
    """CORE_BANKING_* settings; the keys are secrets (base64, 32 bytes or more, by key id)."""

    model_config = SettingsConfigDict(env_prefix="CORE_BANKING_", env_file=".env", extra="ignore")

    # the core banking system's id in `X-Lattice-System`
    system_id: str = DEMO_SYSTEM_ID
    # two keys during a rotation: the core system switches to the new one, then the old is removed
    keys: dict[str, str] = {DEMO_KEY_ID: DEMO_SECRET}
    # accepted clock difference of the core system's signatures, in seconds
    window_s: int = 300
    # how long a core system nonce is remembered
    nonce_ttl_s: int = 600
    # the core system's own quota
    requests_per_minute: int = 600

    @field_validator("keys")
    @classmethod
    def _keys_are_strong(cls, keys: dict[str, str]) -> dict[str, str]:
        if not keys:
            raise ValueError("CORE_BANKING_KEYS needs at least one key")
        for key_id, secret in keys.items():
            if not _SHAPES[KEY_ID_HEADER].fullmatch(key_id) or len(_secret_bytes(secret)) < 32:
                raise ValueError(f"core banking key {key_id!r}: a key id and 32+ bytes of base64")
        return keys

    def secrets(self) -> dict[str, bytes]:
        return {key_id: _secret_bytes(secret) for key_id, secret in self.keys.items()}


def _secret_bytes(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return b""


def core_canonical_request(**parts: object) -> str:
    """The partners' canonical request under the core scheme's own name (domain separation)."""
    canonical = canonical_request(**parts)  # type: ignore[arg-type]  # the parts are the request's own strings, named as canonical_request's parameters
    return CORE_SCHEME + canonical[len(SCHEME) :]


@dataclass(frozen=True)
class CoreCaller:
    """The core banking system whose signature verified."""

    system_id: str
    key_id: str


class CoreSignaturePolicy:
    """Verifies one signed core-banking request; raises PolicyDenied (401) when anything is off."""

    def __init__(
        self,
        *,
        system_id: str,
        keys: Mapping[str, bytes],
        store: EdgeStore,
        window_s: int = 300,
        nonce_ttl_s: int = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if nonce_ttl_s < 2 * window_s:
            raise ValueError("nonces must be remembered for at least twice the timestamp window")
        self._system_id = system_id
        self._keys = dict(keys)
        self._store = store
        self._window_s = window_s
        self._nonce_ttl_s = nonce_ttl_s
        self._clock = clock

    def authenticate(self, request: EdgeRequest) -> CoreCaller:
        """The core system, when its key signed exactly this request, now, for the first time."""
        values = _read_headers(request.headers)
        signature = decode_signature(values[SIGNATURE_HEADER])
        if signature is None:
            raise unauthenticated("signature_malformed", f"the {SIGNATURE_HEADER} header is malformed")
        if values[SYSTEM_HEADER] != self._system_id:
            raise unauthenticated("unknown_system", "this caller is not the bank's core system")
        timestamp = int(values[TIMESTAMP_HEADER])
        if abs(int(self._clock()) - timestamp) > self._window_s:
            raise unauthenticated(
                "signature_expired", f"the timestamp is more than {self._window_s}s from now"
            )
        secret = self._keys.get(values[KEY_ID_HEADER])
        if secret is None:
            raise unauthenticated("unknown_key", "no usable signing key with this key id")
        canonical = core_canonical_request(
            method=request.method,
            raw_path=request.raw_path,
            raw_query=request.raw_query,
            partner_id=self._system_id,
            key_id=values[KEY_ID_HEADER],
            timestamp=timestamp,
            nonce=values[NONCE_HEADER],
            body=request.body,
        )
        if not signature_matches(secret, canonical, signature):
            raise unauthenticated("signature_invalid", "the signature does not match the request")
        nonce_key = f"core-nonce:{self._system_id}:{values[NONCE_HEADER]}"
        if not self._store.claim_once(nonce_key, ttl_s=self._nonce_ttl_s):
            raise unauthenticated("nonce_reused", "this nonce was already used")
        return CoreCaller(system_id=self._system_id, key_id=values[KEY_ID_HEADER])


def _read_headers(headers: Mapping[str, str]) -> dict[str, str]:
    values = {name: headers.get(name) for name in (*_SHAPES, SIGNATURE_HEADER)}
    if any(v is None for v in values.values()):
        raise unauthenticated("signature_missing", "core banking requests need the X-Lattice-* headers")
    for name, shape in _SHAPES.items():
        if not shape.fullmatch(values[name] or ""):
            raise unauthenticated("signature_malformed", f"the {name} header is malformed")
    return {k: v for k, v in values.items() if v is not None}


class CoreBanking:
    """The gateway's host of the core-banking policy: signature, then its own quota and idempotency."""

    def __init__(self, *, settings: CoreBankingSettings, store: EdgeStore, environment: str) -> None:
        if environment == "production" and DEMO_SECRET in settings.keys.values():
            raise ValueError("CORE_BANKING_KEYS must hold the core system's real key in production")
        self.settings = settings
        self._policy = CoreSignaturePolicy(
            system_id=settings.system_id,
            keys=settings.secrets(),
            store=store,
            window_s=settings.window_s,
            nonce_ttl_s=settings.nonce_ttl_s,
        )
        self._limits = RateLimiter(store=store, limits={"core": settings.requests_per_minute}, window_s=60)

    async def authenticate(self, request: Request) -> CoreCaller:
        signed = await edge_request(request)
        try:
            caller = await asyncio.to_thread(self._policy.authenticate, signed)
        except PolicyDenied as denied:
            raise Problem(denied.status, denied.code, denied.detail, headers=denied.headers) from None
        consumer = f"core:{caller.system_id}"
        await self._limits.admit_request(request, group="core", consumer=consumer)
        await request.app.state.edge.idempotency.begin(request, principal=consumer)
        return caller


CORE_SIGNATURE = ("core_system", "core_key_id", "core_timestamp", "core_nonce", "core_signature")


# signature, then the core system's quota and its Idempotency-Key
@documents(401, 409, 422, 429, security=[CORE_SIGNATURE])
async def current_core_system(request: Request) -> CoreCaller:
    core: CoreBanking = request.app.state.core_banking
    return await core.authenticate(request)


CoreBankingDep = Annotated[CoreCaller, Depends(current_core_system)]
