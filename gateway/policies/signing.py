"""The partner request signing scheme (docs/partner-signing.md): canonical request and HMAC-SHA256."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

SCHEME = "LATTICE-HMAC-SHA256"
PARTNER_HEADER = "x-lattice-partner"
KEY_ID_HEADER = "x-lattice-key-id"
TIMESTAMP_HEADER = "x-lattice-timestamp"
NONCE_HEADER = "x-lattice-nonce"
SIGNATURE_HEADER = "x-lattice-signature"
SIGNED_HEADERS = (PARTNER_HEADER, KEY_ID_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)


@dataclass(frozen=True)
class EdgeRequest:
    """A request as both hosts see it: method, raw path, raw query, lower-cased headers, raw body."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class SignatureHeaders:
    partner_id: str
    key_id: str
    timestamp: int
    nonce: str
    signature: bytes


def canonical_query(raw_query: str) -> str:
    """Decoded pairs, each re-encoded with RFC 3986 unreserved characters, sorted, joined by '&'."""
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    partner_id: str,
    key_id: str,
    timestamp: int,
    nonce: str,
    body: bytes,
) -> str:
    """The string a partner signs, one element per line."""
    return "\n".join(
        (
            SCHEME,
            method.upper(),
            raw_path,
            canonical_query(raw_query),
            str(timestamp),
            nonce,
            partner_id,
            key_id,
            hashlib.sha256(body).hexdigest(),
        )
    )


def sign(secret: bytes, canonical: str) -> bytes:
    """HMAC-SHA256 of the canonical request."""
    return hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).digest()


def signature_matches(secret: bytes, canonical: str, presented: bytes) -> bool:
    """Constant-time comparison of the presented signature with the expected one."""
    return hmac.compare_digest(sign(secret, canonical), presented)


def decode_signature(value: str) -> bytes | None:
    """Standard base64 with padding; None when malformed."""
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return decoded if len(decoded) == hashlib.sha256().digest_size else None
