"""Partner request signatures: timestamp window, key rotation, HMAC over the raw request, one-time nonces.

Every refusal is a 401 with the HMAC challenge (`WWW-Authenticate: LATTICE-HMAC-SHA256 ...`), never
Bearer. Outside production (`explain_failures`), `signature_invalid` also carries the canonical request
the edge computed, so a partner can diff it against the string it signed; never the secret, never the
expected signature.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.policies.denial import PolicyDenied
from gateway.policies.lockout import AuthLockout
from gateway.policies.signing import (
    KEY_ID_HEADER,
    NONCE_HEADER,
    PARTNER_HEADER,
    SCHEME,
    SIGNATURE_HEADER,
    SIGNED_HEADERS,
    TIMESTAMP_HEADER,
    EdgeRequest,
    SignatureHeaders,
    canonical_request,
    decode_signature,
    signature_matches,
)
from gateway.policies.store import EdgeStore, runs_inline

_PARTNER_ID = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
INLINE_BODY_BYTES = 64 * 1024  # a larger body's HMAC is checked in a worker thread
CHALLENGE = f'{SCHEME} realm="partner", headers="{" ".join(SIGNED_HEADERS)}"'


def unauthenticated(code: str, detail: str, *, extra: dict[str, Any] | None = None) -> PolicyDenied:
    """A partner 401: the HMAC signature challenge names the scheme and the headers it needs."""
    return PolicyDenied(
        401, code, detail, headers={"WWW-Authenticate": f'{CHALLENGE}, error="{code}"'}, extra=extra
    )


def explained_canonical_request(string_to_sign: str, *, body_length: int) -> dict[str, Any]:
    """What the edge signed in the partner's place: each element, and the whole string to sign.

    Derived only from the request itself (nothing a partner did not send), so it is safe to show;
    the secret and the expected signature stay out of it."""
    lines = string_to_sign.split("\n")
    return {
        "canonical_request": {
            "scheme": lines[0],
            "method": lines[1],
            "path": lines[2],
            "canonical_query": lines[3],
            "timestamp": lines[4],
            "nonce": lines[5],
            "partner_id": lines[6],
            "key_id": lines[7],
            "body_sha256": lines[8],
            "body_length": body_length,
            "string_to_sign": string_to_sign,
        }
    }


@dataclass(frozen=True)
class PartnerKey:
    """One signing key of a partner, usable from `not_before` until `not_after` (None: no end)."""

    partner_id: str
    key_id: str
    secret: bytes
    not_before: float
    not_after: float | None = None

    def usable_at(self, now: float) -> bool:
        return self.not_before <= now and (self.not_after is None or now < self.not_after)


class PartnerKeySource(Protocol):
    def partner_key(self, *, partner_id: str, key_id: str) -> PartnerKey | None: ...


@dataclass(frozen=True)
class VerifiedPartner:
    partner_id: str
    key_id: str


class PartnerSignaturePolicy:
    """Verifies one signed partner request; raises PolicyDenied (401) when anything is off."""

    def __init__(
        self,
        *,
        keys: PartnerKeySource,
        store: EdgeStore,
        window_s: int = 300,
        nonce_ttl_s: int = 600,
        lockout: AuthLockout | None = None,
        clock: Callable[[], float] = time.time,
        explain_failures: bool = False,
    ) -> None:
        if nonce_ttl_s < 2 * window_s:
            raise ValueError("nonces must be remembered for at least twice the timestamp window")
        self._keys = keys
        self._store = store
        self._window_s = window_s
        self._nonce_ttl_s = nonce_ttl_s
        self._lockout = lockout
        self._clock = clock
        self._explain = explain_failures

    def answers_inline(self, request: EdgeRequest) -> bool:
        """True when `authenticate` answers in microseconds on the caller's thread: the edge state is
        in memory, the key source holds the partner's key (no call to identity) and the body is small
        (its HMAC is the work). Else it belongs in a worker thread."""
        holds = getattr(self._keys, "holds", None)
        if holds is None or not runs_inline(self._store) or len(request.body) > INLINE_BODY_BYTES:
            return False
        try:
            signed = read_signature_headers(request.headers)
        except PolicyDenied:
            return True  # refused at once
        return bool(holds(partner_id=signed.partner_id, key_id=signed.key_id))

    def authenticate(self, request: EdgeRequest) -> VerifiedPartner:
        """The partner whose key signed exactly this request, now, for the first time."""
        signed = read_signature_headers(request.headers)
        if self._lockout is not None:
            self._lockout.check(kind="partner", client_id=signed.partner_id)
        now = self._clock()
        if abs(int(now) - signed.timestamp) > self._window_s:
            raise unauthenticated(
                "signature_expired",
                f"the timestamp is more than {self._window_s}s from now",
                extra={"server_time": int(now)},
            )
        try:
            return self._verify(request, signed, now)
        except PolicyDenied as denied:
            if self._lockout is not None and denied.code in ("unknown_key", "signature_invalid"):
                self._lockout.failed(kind="partner", client_id=signed.partner_id)
            raise

    def _verify(self, request: EdgeRequest, signed: SignatureHeaders, now: float) -> VerifiedPartner:
        revoked = self._store.is_claimed(revoked_key_key(signed.partner_id, signed.key_id))
        key = None if revoked else self._keys.partner_key(partner_id=signed.partner_id, key_id=signed.key_id)
        if key is None or not key.usable_at(now):
            raise unauthenticated("unknown_key", "no usable signing key with this key id")
        canonical = canonical_request(
            method=request.method,
            raw_path=request.raw_path,
            raw_query=request.raw_query,
            partner_id=signed.partner_id,
            key_id=signed.key_id,
            timestamp=signed.timestamp,
            nonce=signed.nonce,
            body=request.body,
        )
        if not signature_matches(key.secret, canonical, signed.signature):
            if self._explain:
                raise unauthenticated(
                    "signature_invalid",
                    "the signature does not match the request; compare canonical_request.string_to_sign "
                    "with the string you signed",
                    extra=explained_canonical_request(canonical, body_length=len(request.body)),
                )
            raise unauthenticated("signature_invalid", "the signature does not match the request")
        if not self._store.claim_once(f"nonce:{signed.partner_id}:{signed.nonce}", ttl_s=self._nonce_ttl_s):
            raise unauthenticated("nonce_reused", "this nonce was already used")
        return VerifiedPartner(partner_id=signed.partner_id, key_id=signed.key_id)


def revoked_key_key(partner_id: str, key_id: str) -> str:
    """The edge-store key that marks a partner signing key identity revoked (rotated with no overlap)."""
    return f"partner-key-revoked:{partner_id}:{key_id}"


def read_signature_headers(headers: object) -> SignatureHeaders:
    """The five signature headers, each checked for shape; 401 when one is missing or malformed."""
    get = headers.get  # type: ignore[attr-defined]  # header mappings of Starlette and Kong's PDK both have get()
    values = {name: get(name) for name in (PARTNER_HEADER, KEY_ID_HEADER, TIMESTAMP_HEADER, NONCE_HEADER)}
    raw_signature = get(SIGNATURE_HEADER)
    missing = [name for name in SIGNED_HEADERS if get(name) is None]
    if missing:
        raise unauthenticated(
            "signature_missing",
            f"signed partner requests need the header{'s' if len(missing) > 1 else ''} "
            + ", ".join(display_name(name) for name in missing),
            extra={"missing_headers": [display_name(name) for name in missing]},
        )
    checks = (
        (PARTNER_HEADER, _PARTNER_ID),
        (KEY_ID_HEADER, _KEY_ID),
        (TIMESTAMP_HEADER, _TIMESTAMP),
        (NONCE_HEADER, _NONCE),
    )
    for name, pattern in checks:
        if not pattern.fullmatch(values[name]):
            raise unauthenticated("signature_malformed", f"the {display_name(name)} header is malformed")
    signature = decode_signature(raw_signature)
    if signature is None:
        raise unauthenticated(
            "signature_malformed", f"the {display_name(SIGNATURE_HEADER)} header is malformed"
        )
    return SignatureHeaders(
        partner_id=values[PARTNER_HEADER],
        key_id=values[KEY_ID_HEADER],
        timestamp=int(values[TIMESTAMP_HEADER]),
        nonce=values[NONCE_HEADER],
        signature=signature,
    )


def display_name(header: str) -> str:
    """`x-lattice-key-id` as partners write it: `X-Lattice-Key-Id`."""
    return "-".join(part.capitalize() for part in header.split("-"))


__all__ = ["PartnerKey", "PartnerKeySource", "PartnerSignaturePolicy", "PolicyDenied", "VerifiedPartner"]
