"""Identity's acceptance flows through the running gateway, as apps, partners and operators act."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import time
import uuid

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from tests.support.actors import (
    JWT_BEARER,
    Session,
    bind_partner,
    issue_ticket,
    operator_headers,
    partner_client,
    partner_consent,
    recognise,
    redeem_ticket,
    sign_in,
)
from tools.journey import wait_until
from tools.stack import Stack


def user(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def problem(resp: httpx.Response, status: int, code: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    if code:
        assert resp.json()["code"] == code, resp.text


def test_mbank_customer_is_recognised_in_life_once_and_only_by_life(gateway: httpx.Client) -> None:
    mbank = sign_in(gateway, "mbank", user("m"), assurance_level=2, phone_number="13600136000")
    me = gateway.get("/v1/apps/mbank/me", headers=mbank.headers)
    assert me.status_code == 200 and me.json()["phone_masked"] == "136******00"
    life = recognise(gateway, mbank, "life", scopes=["benefits", "profile"])
    assert life.customer_id == mbank.customer_id
    assert jwt.decode(life.access_token, options={"verify_signature": False})["act"] == {"sub": "mbank"}
    assert gateway.get("/v1/apps/life/me", headers=life.headers).json()["linked_app_ids"] == ["life", "mbank"]
    problem(gateway.get("/v1/apps/life/me", headers=mbank.headers), 401)

    ticket = issue_ticket(gateway, mbank, "life")
    assert redeem_ticket(gateway, "life", ticket).status_code == 200
    problem(redeem_ticket(gateway, "life", ticket), 409, "ticket_already_redeemed")
    problem(
        redeem_ticket(gateway, "wealth", issue_ticket(gateway, mbank, "life")),
        403,
        "ticket_audience_mismatch",
    )
    problem(redeem_ticket(gateway, "life", "not-a-ticket-" + "x" * 20), 401, "invalid_ticket")
    problem(
        gateway.post("/v1/apps/mbank/tickets", json={"audience_app_id": "wealth"}, headers=mbank.headers),
        403,
        "consent_required",
    )


def test_refresh_reuse_revokes_the_family_and_logout_ends_every_app(gateway: httpx.Client) -> None:
    first = sign_in(gateway, "life", user("l"))
    refresh = {"grant_type": "refresh_token", "refresh_token": first.refresh_token}
    second = gateway.post("/v1/apps/life/token", json=refresh)
    assert second.status_code == 200
    problem(gateway.post("/v1/apps/life/token", json=refresh), 401, "refresh_token_reused")
    rotated = {"grant_type": "refresh_token", "refresh_token": second.json()["refresh_token"]}
    problem(gateway.post("/v1/apps/life/token", json=rotated), 401, "session_revoked")

    mbank = sign_in(gateway, "mbank", user("m"))
    life = recognise(gateway, mbank, "life")
    ended = gateway.post("/v1/apps/life/logout-everywhere", headers=life.headers)
    assert ended.status_code == 200 and ended.json()["sessions_ended"] >= 2
    again = {"grant_type": "refresh_token", "refresh_token": mbank.refresh_token}
    problem(gateway.post("/v1/apps/mbank/token", json=again), 401, "session_revoked")
    problem(gateway.post("/v1/apps/mbank/token", json={"grant_type": JWT_BEARER}), 422, "assertion_required")
    problem(gateway.post("/v1/apps/mbank/token", json={"grant_type": "password", "x": 1}), 422)


def test_ended_sessions_access_tokens_are_refused_at_the_edge_before_they_expire(
    gateway: httpx.Client,
) -> None:
    mbank = sign_in(gateway, "mbank", user("m"))
    life = recognise(gateway, mbank, "life")
    bystander = sign_in(gateway, "mbank", user("m"))
    for session in (mbank, life, bystander):
        assert gateway.get(f"/v1/apps/{session.app_id}/me", headers=session.headers).status_code == 200
    assert gateway.post("/v1/apps/mbank/logout-everywhere", headers=mbank.headers).status_code == 200

    def refused(session: Session) -> bool:
        resp = gateway.get(f"/v1/apps/{session.app_id}/me", headers=session.headers)
        return resp.status_code == 401 and resp.json()["code"] == "session_ended"

    # the access tokens have 15 minutes left; identity's event reaches the edge in well under 10 s
    wait_until("mbank's access token refused", lambda: refused(mbank), timeout=10)
    wait_until("life's access token refused", lambda: refused(life), timeout=10)
    assert gateway.get("/v1/apps/mbank/me", headers=bystander.headers).status_code == 200

    # a reused refresh token ends its session, and with it the access token it was issued with
    first = sign_in(gateway, "life", user("l"))
    refresh = {"grant_type": "refresh_token", "refresh_token": first.refresh_token}
    assert gateway.post("/v1/apps/life/token", json=refresh).status_code == 200
    problem(gateway.post("/v1/apps/life/token", json=refresh), 401, "refresh_token_reused")
    wait_until("the reused session's token refused", lambda: refused(first), timeout=10)


def test_partners_get_distinct_stable_pairwise_ids_and_lose_them_on_withdrawal(gateway: httpx.Client) -> None:
    customer = sign_in(gateway, "mbank", user("m"), assurance_level=2)
    ride = bind_partner(gateway, customer, "ride", partner_user_ref="ride-42")
    food = bind_partner(gateway, customer, "food", partner_user_ref="food-42")
    assert ride != food and customer.customer_id not in ride + food
    assert bind_partner(gateway, customer, "ride", partner_user_ref="ride-42") == ride
    with partner_client(gateway, "ride") as partner:
        seen = partner.request("GET", f"/v1/partner/customers/{ride}")
        assert seen.status_code == 200 and "cus_" not in seen.text
        problem(partner.request("GET", f"/v1/partner/customers/{food}"), 404)
        consents = gateway.get("/v1/apps/mbank/consents", headers=customer.headers).json()["items"]
        ride_consent = next(c for c in consents if c["recipient"] == "ride" and c["withdrawn_at"] is None)
        withdrawn = gateway.post(
            f"/v1/apps/mbank/consents/{ride_consent['consent_id']}/withdraw", headers=customer.headers
        )
        assert withdrawn.status_code == 200
        started = time.monotonic()
        problem(partner.request("GET", f"/v1/partner/customers/{ride}"), 403, "consent_withdrawn")
        assert time.monotonic() - started < 1.0
    history = gateway.get("/v1/apps/mbank/consents", headers=customer.headers).json()["items"]
    assert any(c["consent_id"] == ride_consent["consent_id"] and c["withdrawn_at"] for c in history)


def test_binding_needs_the_customers_proof_and_consent(gateway: httpx.Client) -> None:
    customer = sign_in(gateway, "mbank", user("m"), assurance_level=2)
    with partner_client(gateway, "food") as partner:
        started = partner.request("POST", "/v1/partner/bindings", json_body={"partner_user_ref": "food-7"})
        assert started.status_code == 201, started.text
        binding_id = started.json()["binding_id"]
        problem(
            partner.request("POST", f"/v1/partner/bindings/{binding_id}/complete"), 403, "consent_required"
        )
        confirm = f"/v1/apps/mbank/partner-bindings/{binding_id}/confirm"
        problem(gateway.post(confirm, json={}, headers=customer.headers), 403, "consent_required")
        problem(
            gateway.post(confirm, json={"consent": partner_consent("ride")}, headers=customer.headers), 403
        )
        weak = sign_in(gateway, "mbank", customer.app_user_id, assurance_level=1)
        problem(
            gateway.post(confirm, json={"consent": partner_consent("food")}, headers=weak.headers),
            403,
            "step_up_required",
        )
        problem(gateway.post(confirm, json={"consent": partner_consent("food")}), 401)
        problem(
            partner.request("POST", f"/v1/partner/bindings/{binding_id}/complete"), 403, "consent_required"
        )
        none = {"items": [], "next_page_token": None}
        assert gateway.get("/v1/apps/mbank/consents", headers=customer.headers).json() == none


def _forge(stack: Stack, claims: dict[str, object]) -> str:
    """Sign with the real active key (read from identity's DB) to test expiry and issuer checks."""
    with sqlite3.connect(stack.config.var_dir / "identity.db") as db:
        kid, pem = db.execute(
            "SELECT kid, private_pem FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC"
        ).fetchone()
    key = serialization.load_pem_private_key(pem, password=None)
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def test_forged_expired_and_foreign_tokens_are_401(gateway: httpx.Client, stack: Stack) -> None:
    session = sign_in(gateway, "life", user("l"))
    claims = jwt.decode(session.access_token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(session.access_token)["kid"]
    jwks = gateway.get("/v1/.well-known/jwks.json").json()
    public = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, payload, _ = session.access_token.split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"%s"}' % kid.encode()).decode().rstrip("=")
    now = int(time.time())
    forged = {
        "alg none": f"{none_header}.{payload}.",
        "HS256 with the public key": _hs256_with(public_pem, claims, kid),
        "expired": _forge(stack, {**claims, "iat": now - 1000, "exp": now - 100}),
        "wrong issuer": _forge(stack, {**claims, "iss": "someone-else"}),
        "tampered": f"{header}.{payload[:-4]}AAAA.{session.access_token.split('.')[2]}",
    }
    assert gateway.get("/v1/apps/life/me", headers=session.headers).status_code == 200
    for name, token in forged.items():
        resp = gateway.get("/v1/apps/life/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, f"{name}: {resp.status_code} {resp.text}"


def _hs256_with(public_pem: bytes, claims: dict[str, object], kid: str) -> str:
    """The algorithm-confusion attack: an HS256 token keyed with the published public key."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{part(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def test_operator_token_and_registry_routes(gateway: httpx.Client) -> None:
    problem(
        gateway.post(
            "/v1/ops/token",
            json={"grant_type": "client_credentials", "client_id": "hq-admin", "client_secret": "no"},
        ),
        401,
    )
    apps = gateway.get("/v1/ops/apps", headers=operator_headers(gateway, "hq-viewer"))
    assert {a["app_id"] for a in apps.json()["items"]} >= {"mbank", "life", "wealth"}
    new_partner = {"partner_id": user("p")[:30], "name": "Shop", "sector": "ecommerce"}
    problem(
        gateway.post("/v1/ops/partners", json=new_partner, headers=operator_headers(gateway, "sh-operator")),
        403,
    )
    created = gateway.post(
        "/v1/ops/partners", json=new_partner, headers=operator_headers(gateway, "hq-admin")
    )
    assert created.status_code == 201 and len(base64.b64decode(created.json()["signing_secret"])) == 32
    jwks = gateway.get("/v1/.well-known/jwks.json")
    assert jwks.status_code == 200 and all("d" not in k for k in jwks.json()["keys"])
