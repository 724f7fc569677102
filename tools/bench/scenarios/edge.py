"""Edge scenarios: a signed partner request and a token-verified app request through the gateway.

Compare them with the platform baselines of the same run (bare FastAPI, gateway -> gRPC). The CPU
cost of each policy alone is measured by `python -m tools.bench.edge_policies`.
"""

from __future__ import annotations

import uuid
from typing import Any

from lattice.identity.v1 import identity_pb2 as ipb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity import demo_data
from services.identity.app_client import app_assertion
from tools.bench.scenario import BenchContext, Request, RequestFactory, Scenario
from tools.partner_client import PartnerSigner

# Quotas are per consumer (600 partner and 300 app requests a minute): spread the load over many.
PARTNERS = 100
CUSTOMERS = 200


async def partners(ctx: BenchContext) -> dict[str, Any]:
    channel = ctx.channel("identity")
    stub = identity_pb2_grpc.RegistryServiceStub(channel)
    keys = []
    try:
        for i in range(ctx.size(PARTNERS)):
            partner = ipb.Partner(
                partner_id=f"bench-{uuid.uuid4().hex[:8]}-{i}", name="Bench", sector="bench"
            )
            resp = await stub.RegisterPartner(ipb.RegisterPartnerRequest(partner=partner))
            keys.append([partner.partner_id, resp.signing_key_id, resp.signing_secret.hex()])
    finally:
        await channel.close()
    return {"partners": keys}


def signed_partner_requests(params: dict[str, Any]) -> RequestFactory:
    signers = [
        PartnerSigner(partner_id=p, key_id=k, secret=bytes.fromhex(s)) for p, k, s in params["partners"]
    ]

    def request(i: int) -> Request:
        headers = signers[i % len(signers)].headers(method="GET", url="http://gateway/v1/partner/campaigns")
        return Request("GET", "/v1/partner/campaigns", headers, None, (200,))

    return request


async def customers(ctx: BenchContext) -> dict[str, Any]:
    channel = ctx.channel("identity")
    stub = identity_pb2_grpc.CustomerServiceStub(channel)
    tokens = []
    try:
        for i in range(ctx.size(CUSTOMERS)):
            assertion = app_assertion(
                app_id="mbank",
                client_secret=demo_data.DEMO_APP_SECRETS["mbank"],
                app_user_id=f"bench-edge-{i}",
                assurance_level=2,
            )
            tokens.append(
                (await stub.SignIn(ipb.SignInRequest(app_id="mbank", assertion=assertion))).access_token
            )
    finally:
        await channel.close()
    return {"tokens": tokens}


def app_token_requests(params: dict[str, Any]) -> RequestFactory:
    requests = [
        Request("GET", "/v1/apps/mbank/me", {"authorization": f"Bearer {t}"}) for t in params["tokens"]
    ]
    return lambda i: requests[i % len(requests)]


SCENARIOS = [
    Scenario(
        "edge.partner_signed",
        "signed partner GET (HMAC, timestamp, one-time nonce in the edge store) -> conversion over gRPC",
        signed_partner_requests,
        partners,
    ),
    Scenario(
        "edge.app_token",
        "customer GET with an ES256 app token verified against the cached JWKS -> identity over gRPC",
        app_token_requests,
        customers,
    ),
]
