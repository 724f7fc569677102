"""Act as a customer, an operator, a partner or the core banking system through the gateway.

Every actor uses the demo data's credentials:

    session = sign_in(gateway, "mbank", "m-1001")            # a customer signed in to mbank
    gateway.get("/v1/apps/mbank/me", headers=session.headers)
    life = recognise(gateway, session, "life")                # the same customer recognised in life
    gateway.get("/v1/ops/apps", headers=operator_headers(gateway, "hq-admin"))
    with partner_client(gateway, "ride") as ride: ride.request("GET", "/v1/partner/...")
    pairwise = bind_partner(gateway, session, "ride", partner_user_ref="ride-user-1")
    with core_banking_client(gateway) as core: core.record_milestones([milestone("first_transaction", id)])

`gateway` is an httpx.Client whose base_url is the gateway (the `gateway` fixture of tests/conftest.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from services.identity import demo_data
from services.identity.app_client import app_assertion
from tools.core_banking_client import core_banking_client, milestone  # noqa: F401  (re-exported)
from tools.partner_client import PartnerClient, PartnerSigner

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CONSENT_TEXT_VERSION = "partner-binding-v1"
_operator_tokens: dict[tuple[str, str], tuple[str, float]] = {}


@dataclass
class Session:
    """A customer signed in to one app."""

    app_id: str
    app_user_id: str
    access_token: str
    refresh_token: str
    assurance_level: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def customer_id(self) -> str:
        """The internal customer id (the token's subject), for assertions in bank-internal tests."""
        return str(jwt.decode(self.access_token, options={"verify_signature": False})["sub"])


def ok_json(resp: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful (or redirect) answer; an AssertionError naming the call otherwise."""
    if resp.status_code >= 300 and resp.status_code != 302:
        request = resp.request
        raise AssertionError(f"{request.method} {request.url.path} -> {resp.status_code}: {resp.text}")
    return resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else {}


def _session(app_id: str, body: dict[str, Any]) -> Session:
    return Session(
        app_id=app_id,
        app_user_id=body["app_user_id"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        assurance_level=body["assurance_level"],
    )


def sign_in(
    gateway: httpx.Client, app_id: str, app_user_id: str, assurance_level: int = 2, **claims: Any
) -> Session:
    """Sign a customer in as the app's backend would (a new app user becomes a new customer)."""
    assertion = app_assertion(
        app_id=app_id,
        client_secret=demo_data.DEMO_APP_SECRETS[app_id],
        app_user_id=app_user_id,
        assurance_level=assurance_level,
        **claims,
    )
    resp = gateway.post(f"/v1/apps/{app_id}/token", json={"grant_type": JWT_BEARER, "assertion": assertion})
    return _session(app_id, ok_json(resp))


def issue_ticket(
    gateway: httpx.Client, session: Session, audience_app_id: str, scopes: list[str] | None = None
) -> str:
    resp = gateway.post(
        f"/v1/apps/{session.app_id}/tickets",
        json={"audience_app_id": audience_app_id, "scopes": scopes or []},
        headers=session.headers,
    )
    return str(ok_json(resp)["ticket"])


def redeem_ticket(gateway: httpx.Client, app_id: str, ticket: str, **claims: Any) -> httpx.Response:
    """The audience app's backend redeems a ticket (claims may carry `app_user_id`)."""
    assertion = app_assertion(app_id=app_id, client_secret=demo_data.DEMO_APP_SECRETS[app_id], **claims)
    return gateway.post(
        f"/v1/apps/{app_id}/tickets/redeem", json={"ticket": ticket, "client_assertion": assertion}
    )


def recognise(
    gateway: httpx.Client, session: Session, audience_app_id: str, scopes: list[str] | None = None
) -> Session:
    """The signed-in customer recognised in a sibling app (ticket issued, then redeemed)."""
    ticket = issue_ticket(gateway, session, audience_app_id, scopes)
    return _session(audience_app_id, ok_json(redeem_ticket(gateway, audience_app_id, ticket)))


def operator_token(gateway: httpx.Client, operator_id: str) -> str:
    """A demo operator's token (cached while it has more than a minute left)."""
    cache_key = (str(gateway.base_url), operator_id)
    cached = _operator_tokens.get(cache_key)
    if cached and cached[1] - time.time() > 60:
        return cached[0]
    body = ok_json(
        gateway.post(
            "/v1/ops/token",
            json={
                "grant_type": "client_credentials",
                "client_id": operator_id,
                "client_secret": demo_data.DEMO_OPERATOR_SECRETS[operator_id],
            },
        )
    )
    _operator_tokens[cache_key] = (body["access_token"], time.time() + body["expires_in"])
    return str(body["access_token"])


def operator_headers(gateway: httpx.Client, operator_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator_token(gateway, operator_id)}"}


def partner_client(gateway: httpx.Client, partner_id: str) -> PartnerClient:
    """A signing client for a demo partner (`ride` or `food`) with its demo key."""
    _, _, key_id, secret = demo_data.DEMO_PARTNERS[partner_id]
    signer = PartnerSigner(partner_id=partner_id, key_id=key_id, secret=secret)
    return PartnerClient(base_url=str(gateway.base_url), signer=signer)


def partner_consent(partner_id: str) -> dict[str, Any]:
    return {
        "recipient_type": "partner",
        "recipient": partner_id,
        "purpose": "partner_account_binding",
        "data_categories": ["pairwise_id", "assurance_level"],
        "text_version": CONSENT_TEXT_VERSION,
    }


def bind_partner(gateway: httpx.Client, session: Session, partner_id: str, *, partner_user_ref: str) -> str:
    """Bind the customer to a partner with consent; returns the partner's pairwise id."""
    with partner_client(gateway, partner_id) as partner:
        started = ok_json(
            partner.request("POST", "/v1/partner/bindings", json_body={"partner_user_ref": partner_user_ref})
        )
        confirm = f"/v1/apps/{session.app_id}/partner-bindings/{started['binding_id']}/confirm"
        ok_json(gateway.post(confirm, json={"consent": partner_consent(partner_id)}, headers=session.headers))
        done = ok_json(partner.request("POST", f"/v1/partner/bindings/{started['binding_id']}/complete"))
    return str(done["pairwise_id"])
