"""Signed, tamper-evident partner link codes: `<link>.<partner>.<campaign>.<scene>.<exp>.<kid>.<sig>`.

Pure functions shared by conversion (which issues links) and the gateway (which verifies them on
`GET /r/{code}` without a database). The signature is a truncated HMAC-SHA256 over everything
before it; the expiry is a base-36 Unix time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

SIG_BYTES = 16
MAX_CODE_LENGTH = 200
_PART = re.compile(r"^[a-z0-9_-]{1,40}$")
_LINK_ID = re.compile(r"^[A-Za-z0-9]{8,16}$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class LinkClaims:
    """What a link says: who sent the traffic, for which campaign and scene, until when."""

    link_id: str
    partner_id: str
    campaign_id: str
    scene: str
    expires_at: datetime
    key_id: str


class LinkRejected(Exception):
    """The code is malformed, its signature does not verify, or it expired."""

    def __init__(self, reason: str, claims: LinkClaims | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claims = claims


def new_link_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(10))


def _b36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
        if value == 0:
            return out


def _signature(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, b"v1." + body.encode(), hashlib.sha256).digest()[:SIG_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_link(*, claims: LinkClaims, secret: bytes) -> str:
    """The link code for `claims`, signed with `secret` (the key named by claims.key_id)."""
    for part in (claims.partner_id, claims.campaign_id, claims.scene, claims.key_id):
        if not _PART.match(part):
            raise ValueError("link parts must be 1-40 lowercase letters, digits, '-' or '_'")
    expiry = _b36(int(claims.expires_at.timestamp()))
    body = ".".join(
        (claims.link_id, claims.partner_id, claims.campaign_id, claims.scene, expiry, claims.key_id)
    )
    return f"{body}.{_signature(secret, body)}"


def verify_link(*, code: str, keys: dict[str, bytes], now: datetime) -> LinkClaims:
    """The claims of a valid code; raises LinkRejected(bad_signature | expired | unknown_key)."""
    parts = code.split(".") if len(code) <= MAX_CODE_LENGTH else []
    if len(parts) != 7 or not _LINK_ID.match(parts[0]) or not all(_PART.match(p) for p in parts[1:6]):
        raise LinkRejected("bad_signature")
    link_id, partner_id, campaign_id, scene, expiry, key_id, signature = parts
    secret = keys.get(key_id)
    if secret is None:
        raise LinkRejected("unknown_key")
    body = code.rsplit(".", 1)[0]
    if not hmac.compare_digest(_signature(secret, body), signature):
        raise LinkRejected("bad_signature")
    try:
        expires_at = datetime.fromtimestamp(int(expiry, 36), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise LinkRejected("bad_signature") from exc
    claims = LinkClaims(link_id, partner_id, campaign_id, scene, expires_at, key_id)
    if expires_at <= now:
        raise LinkRejected("expired", claims)
    return claims
