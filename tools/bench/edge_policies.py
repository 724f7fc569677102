"""CPU microseconds per request of each edge policy alone: `python -m tools.bench.edge_policies`.

Runs the policies of gateway/policies in-process on real keys (ES256 tokens, HMAC partner keys,
nonces in a SQLite edge store), the same code the gateway and Kong's plugins run.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.policies.partner_signature import PartnerKey, PartnerSignaturePolicy
from gateway.policies.signing import EdgeRequest
from gateway.policies.store_sqlite import SqliteEdgeStore
from gateway.policies.tokens import AppTokenPolicy, JwksCache, OperatorTokenPolicy
from tools.partner_client import PartnerSigner

ROUNDS = 2000


class _Keys:
    def __init__(self, key: PartnerKey) -> None:
        self.key = key

    def partner_key(self, *, partner_id: str, key_id: str) -> PartnerKey | None:
        return self.key if (partner_id, key_id) == (self.key.partner_id, self.key.key_id) else None


def cpu_us(run: Callable[[int], object], rounds: int = ROUNDS) -> float:
    """Process CPU time per call, in microseconds."""
    started = time.process_time()
    for i in range(rounds):
        run(i)
    return (time.process_time() - started) / rounds * 1e6


def measure(work: Path) -> dict[str, float]:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key())), "kid": "k1", "alg": "ES256"}
    jwks = JwksCache(lambda: json.dumps({"keys": [jwk]}))
    now = int(time.time())

    def token(aud: str, **claims: object) -> str:
        payload = {
            "iss": "lattice-identity",
            "aud": aud,
            "sub": "c1",
            "iat": now,
            "exp": now + 600,
            "jti": "j",
            "kind": "operator" if aud == "lattice-ops" else "customer",
        }
        return "Bearer " + jwt.encode(
            {**payload, **claims}, private, algorithm="ES256", headers={"kid": "k1", "typ": "at+jwt"}
        )

    app_token = token("mbank", acr="2", sid="s1")
    ops_token = token("lattice-ops", role="operator", branch="sz01")
    store = SqliteEdgeStore(work / "edge.db")
    store.claim_once("session-ended:another-session", ttl_s=900)
    # as the gateway runs it: the signature, then the ended-session mark in the edge store
    apps, ops = AppTokenPolicy(jwks, ended_sessions=store), OperatorTokenPolicy(jwks)
    signature_only = AppTokenPolicy(jwks)
    key = PartnerKey(partner_id="ride", key_id="k1", secret=b"s" * 32, not_before=0)
    partners = PartnerSignaturePolicy(keys=_Keys(key), store=store)
    signer = PartnerSigner(partner_id="ride", key_id="k1", secret=b"s" * 32)
    body = b'{"amount":100}'
    url = "http://gateway/v1/partner/transfers?page_size=10"
    signed = [
        EdgeRequest(
            "POST",
            "/v1/partner/transfers",
            "page_size=10",
            {
                k.lower(): v
                for k, v in signer.headers(method="POST", url=url, body=body, nonce=uuid.uuid4().hex).items()
            },
            body,
        )
        for _ in range(ROUNDS)
    ]
    return {
        "app_token": cpu_us(lambda _i: apps.authenticate(authorization=app_token, app_id="mbank")),
        "app_token_without_session_check": cpu_us(
            lambda _i: signature_only.authenticate(authorization=app_token, app_id="mbank")
        ),
        "operator_token": cpu_us(lambda _i: ops.authenticate(authorization=ops_token)),
        "partner_signature": cpu_us(lambda i: partners.authenticate(signed[i])),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(Path(tmp))
    print("| policy | CPU µs per request |\n|---|---:|")
    for name, value in results.items():
        print(f"| {name} | {value:.0f} |")


if __name__ == "__main__":
    main()
