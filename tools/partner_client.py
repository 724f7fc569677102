"""The reference partner client: signs requests exactly as docs/partner-signing.md describes.

Self-contained on purpose (standard library and httpx only), so it shows a partner everything the
scheme needs and checks the gateway's verifier independently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx

SCHEME = "LATTICE-HMAC-SHA256"


def canonical_query(raw_query: str) -> str:
    """Decode the pairs ('+' is a space), re-encode with RFC 3986 unreserved characters, sort, join."""
    pairs = [
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in parse_qsl(raw_query, keep_blank_values=True)
    ]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class PartnerSigner:
    """Signs one request with a partner's key: returns the five X-Lattice-* headers."""

    def __init__(
        self, *, partner_id: str, key_id: str, secret: bytes, clock: Callable[[], float] = time.time
    ) -> None:
        self.partner_id = partner_id
        self.key_id = key_id
        self._secret = secret
        self._clock = clock

    def headers(
        self,
        *,
        method: str,
        url: str,
        body: bytes = b"",
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        raw = httpx.URL(url).raw_path.decode("ascii")
        path, _, query = raw.partition("?")
        timestamp = int(self._clock()) if timestamp is None else timestamp
        nonce = nonce or secrets.token_urlsafe(18)
        canonical = "\n".join(
            (
                SCHEME,
                method.upper(),
                path,
                canonical_query(query),
                str(timestamp),
                nonce,
                self.partner_id,
                self.key_id,
                hashlib.sha256(body).hexdigest(),
            )
        )
        signature = hmac.new(self._secret, canonical.encode("utf-8"), hashlib.sha256).digest()
        return {
            "X-Lattice-Partner": self.partner_id,
            "X-Lattice-Key-Id": self.key_id,
            "X-Lattice-Timestamp": str(timestamp),
            "X-Lattice-Nonce": nonce,
            "X-Lattice-Signature": base64.b64encode(signature).decode("ascii"),
        }


def encode_request(
    path: str, *, params: Mapping[str, str] | None = None, json_body: Any = None
) -> tuple[str, bytes, dict[str, str]]:
    """The target (path and query) and the exact body bytes to sign and send."""
    target = path + ("?" + urlencode(params, quote_via=quote) if params else "")
    if json_body is None:
        return target, b"", {}
    body = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return target, body, {"Content-Type": "application/json"}


class PartnerClient:
    """A synchronous partner platform client for the gateway's /v1/partner routes."""

    def __init__(self, *, base_url: str, signer: PartnerSigner, timeout_s: float = 10.0) -> None:
        self.signer = signer
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        target, body, extra = encode_request(path, params=params, json_body=json_body)
        url = str(self._http.base_url.join(target))
        signed = self.signer.headers(method=method, url=url, body=body)
        return self._http.request(method, url, content=body, headers={**extra, **signed, **(headers or {})})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PartnerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
