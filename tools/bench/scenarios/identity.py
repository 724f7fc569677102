"""Identity scenarios: cross-app ticket issue and redeem, and pairwise-id resolution at 10^3 and 10^6
linked accounts (the two resolution runs' p50 ratio should stay <= 1.5: an indexed lookup)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import jwt
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc
from sqlalchemy import create_engine, insert

from services.identity import demo_data
from services.identity.app_client import app_assertion
from services.identity.models import RecognitionTicket
from services.identity.recognition import TICKET_TTL
from services.identity.sessions import token_hash
from services.runtime.clock import utcnow
from tools.bench.scenario import BenchContext, Request, RequestFactory, Scenario, json_request
from tools.partner_client import PartnerSigner

CUSTOMERS = 50
TICKETS = 2000  # seeded at a time
CONSENT = pb.ConsentGrant(
    recipient_type="partner",
    recipient="ride",
    purpose="partner_account_binding",
    data_categories=["pairwise_id"],
    text_version="partner-binding-v1",
)


async def _sign_in(
    stub: identity_pb2_grpc.CustomerServiceStub, user: str, level: int = 2
) -> pb.SignInResponse:
    secret = demo_data.DEMO_APP_SECRETS["mbank"]
    assertion = app_assertion(app_id="mbank", client_secret=secret, app_user_id=user, assurance_level=level)
    return await stub.SignIn(pb.SignInRequest(app_id="mbank", assertion=assertion))


def _caller(token: str) -> pb.CustomerCaller:
    claims = jwt.decode(token, options={"verify_signature": False})
    return pb.CustomerCaller(
        customer_id=claims["sub"],
        app_id=claims["aud"],
        assurance_level=int(claims["acr"]),
        token_id=claims["jti"],
        scopes=claims["scope"].split(),
    )


async def setup_issue(ctx: BenchContext) -> dict[str, Any]:
    channel = ctx.channel("identity")
    stub = identity_pb2_grpc.CustomerServiceStub(channel)
    try:
        tokens = [(await _sign_in(stub, f"bench-issue-{i}")).access_token for i in range(ctx.size(CUSTOMERS))]
    finally:
        await channel.close()
    return {"tokens": tokens}


def issue(params: dict[str, Any]) -> RequestFactory:
    tokens = params["tokens"]
    return lambda i: json_request(
        "POST",
        "/v1/apps/mbank/tickets",
        {"audience_app_id": "life"},
        headers={"authorization": f"Bearer {tokens[i % len(tokens)]}"},
        expect=(201,),
    )


async def setup_redeem(ctx: BenchContext) -> dict[str, Any]:
    """Signed-in mbank customers whose tickets for life the request factory seeds as it goes."""
    channel = ctx.channel("identity")
    stub = identity_pb2_grpc.CustomerServiceStub(channel)
    try:
        callers = [
            _caller((await _sign_in(stub, f"bench-redeem-{i}")).access_token)
            for i in range(ctx.size(CUSTOMERS))
        ]
    finally:
        await channel.close()
    holders = [[c.customer_id, list(c.scopes), c.assurance_level] for c in callers]
    return {"database": str(ctx.var_dir / "identity.db"), "holders": holders, "chunk": ctx.size(TICKETS)}


class TicketSupply:
    """One unused ticket per request index, seeded in chunks just before they are needed.

    A ticket is single use and expires 60 s after it is issued, while the harness builds its requests
    ahead of the load (wrk's pools: thousands for the warm-up, more after it). Issuing them all in the
    setup through gRPC outlived their validity on a loaded machine (4,000 took 79 s) and a pool index
    past the supply reused a redeemed one; so each index gets a ticket of its own, and a chunk is
    written (bulk SQL, as the issuer writes it: hashed, for life, valid 60 s) when the first index past
    the supply is asked for.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self._engine = create_engine(f"sqlite:///{params['database']}", connect_args={"timeout": 60})
        self._holders = params["holders"]
        self._chunk = int(params["chunk"])
        self._tickets: dict[int, str] = {}

    def ticket(self, i: int) -> str:
        if i not in self._tickets:
            self._seed(range(i, i + self._chunk))
        return self._tickets[i]

    def _seed(self, indices: range) -> None:
        expires_at = utcnow() + TICKET_TTL
        rows = []
        for i in indices:
            if i in self._tickets:
                continue
            customer_id, scopes, level = self._holders[i % len(self._holders)]
            self._tickets[i] = ticket = secrets.token_urlsafe(32)
            rows.append(
                {
                    "ticket_hash": token_hash(ticket),
                    "customer_id": customer_id,
                    "from_app_id": "mbank",
                    "to_app_id": "life",
                    "scopes": sorted(scopes),
                    "assurance_level": level,
                    "expires_at": expires_at,
                    "redeemed_at": None,
                }
            )
        with self._engine.begin() as db:
            db.execute(insert(RecognitionTicket.__table__), rows)  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it


def redeem(params: dict[str, Any]) -> RequestFactory:
    supply, secret = TicketSupply(params), demo_data.DEMO_APP_SECRETS["life"]

    def build(i: int) -> Request:
        assertion = app_assertion(app_id="life", client_secret=secret)
        body = {"ticket": supply.ticket(i), "client_assertion": assertion}
        return json_request("POST", "/v1/apps/life/tickets/redeem", body, expect=(200,))

    return build


def seed_links(database: Path, *, total: int) -> None:
    """Top the partner's linked accounts up to `total` rows (bulk SQL: seeding, not the code under test)."""
    with sqlite3.connect(database, timeout=30) as db:
        have = db.execute("SELECT count(*) FROM partner_link WHERE partner_id = 'ride'").fetchone()[0]
        for start in range(have, total, 50_000):
            rows = []
            for i in range(start, min(start + 50_000, total)):
                digest = hashlib.sha256(f"bench|{i}".encode()).digest()
                pairwise = "pw_" + base64.b32encode(digest[:20]).decode().lower().rstrip("=")
                rows.append((f"lnk_bench_{i}", "ride", pairwise, f"cus_bench{i:015d}", "cst_bench", "[]"))
            db.executemany(
                "INSERT INTO partner_link (link_id, partner_id, pairwise_id, customer_id, consent_id, scopes,"
                " linked_at, removed_reason) VALUES (?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP, '')",
                rows,
            )
            db.commit()


async def _bound_pairwise(ctx: BenchContext, user: str) -> str:
    channel = ctx.channel("identity")
    stub = identity_pb2_grpc.CustomerServiceStub(channel)
    try:
        caller = _caller((await _sign_in(stub, user)).access_token)
        started = await stub.StartPartnerBinding(
            pb.StartPartnerBindingRequest(partner_id="ride", partner_user_ref=user)
        )
        binding_id = started.binding.binding_id
        await stub.ConfirmPartnerBinding(
            pb.ConfirmPartnerBindingRequest(caller=caller, binding_id=binding_id, consent=CONSENT)
        )
        done = await stub.CompletePartnerBinding(
            pb.CompletePartnerBindingRequest(partner_id="ride", binding_id=binding_id)
        )
    finally:
        await channel.close()
    return done.pairwise_id


async def setup_resolve_1k(ctx: BenchContext) -> dict[str, Any]:
    seed_links(ctx.var_dir / "identity.db", total=ctx.size(1_000))
    return {"pairwise": await _bound_pairwise(ctx, "bench-resolve-1k")}


async def setup_resolve_1m(ctx: BenchContext) -> dict[str, Any]:
    seed_links(ctx.var_dir / "identity.db", total=ctx.size(1_000_000))
    return {"pairwise": await _bound_pairwise(ctx, "bench-resolve-1m")}


def resolve(params: dict[str, Any]) -> RequestFactory:
    _, _, key_id, secret = demo_data.DEMO_PARTNERS["ride"]
    signer = PartnerSigner(partner_id="ride", key_id=key_id, secret=secret)
    path = f"/v1/partner/customers/{params['pairwise']}"

    def build(_i: int) -> Request:
        return Request("GET", path, signer.headers(method="GET", url=f"http://bench{path}"), None, (200,))

    return build


SCENARIOS = [
    Scenario(
        "identity.ticket_issue",
        "a signed-in mbank customer asks a one-time ticket for life",
        issue,
        setup_issue,
    ),
    Scenario(
        "identity.ticket_redeem",
        "life's backend redeems a ticket (signed assertion) for tokens",
        redeem,
        setup_redeem,
    ),
    Scenario(
        "identity.pairwise_1k",
        "signed partner call resolving a pairwise id, 10^3 links",
        resolve,
        setup_resolve_1k,
    ),
    Scenario(
        "identity.pairwise_1m",
        "signed partner call resolving a pairwise id, 10^6 links",
        resolve,
        setup_resolve_1m,
    ),
]
