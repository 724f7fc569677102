"""Real keys for edge tests: an ES256 key with its JWKS, identity-shaped tokens, partner keys."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.policies.partner_signature import PartnerKey


@dataclass
class TokenIssuer:
    """Signs tokens as identity does (ES256, kid, iss lattice-identity) and publishes its JWKS."""

    kid: str = field(default_factory=lambda: f"k-{uuid.uuid4().hex[:8]}")
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    published: bool = True

    def jwk(self) -> dict:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def token(
        self,
        *,
        aud: str,
        sub: str,
        lifetime_s: int = 600,
        iat: float | None = None,
        kind: str | None = None,
        typ: str = "at+jwt",
        **claims: object,
    ) -> str:
        """A token as identity signs it; its kind follows the audience unless given."""
        now = int(time.time() if iat is None else iat)
        payload = {
            "iss": "lattice-identity",
            "aud": aud,
            "sub": sub,
            "iat": now,
            "exp": now + lifetime_s,
            "jti": uuid.uuid4().hex,
            "kind": kind_of(aud) if kind is None else kind,
            **claims,
        }
        return jwt.encode(payload, self.private_key, algorithm="ES256", headers={"kid": self.kid, "typ": typ})


def kind_of(aud: str) -> str:
    """The kind identity gives a token of this audience."""
    if aud == "lattice-ops":
        return "operator"
    if aud.startswith("partner:"):
        return "partner"
    if aud.startswith("service:"):
        return "service"
    return "customer"


class Jwks:
    """The JWKS document of several issuers; counts fetches (what identity's GetJwks would serve)."""

    def __init__(self, *issuers: TokenIssuer) -> None:
        self.issuers = list(issuers)
        self.fetches = 0

    def fetch(self) -> str:
        self.fetches += 1
        return json.dumps({"keys": [i.jwk() for i in self.issuers if i.published]})


class PartnerKeys:
    """Partner signing keys by (partner, key id), as identity's GetPartnerSigningKey would return them."""

    def __init__(self, *keys: PartnerKey) -> None:
        self.keys = {(k.partner_id, k.key_id): k for k in keys}

    def partner_key(self, *, partner_id: str, key_id: str) -> PartnerKey | None:
        return self.keys.get((partner_id, key_id))
