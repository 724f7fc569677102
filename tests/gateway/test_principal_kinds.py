"""One kind of principal per token: every authenticated route of the OpenAPI, tried with the
credentials of every other kind, is refused (401/403, or 404 app_not_found when the app in the path
is another kind's audience) and writes nothing: no event leaves any service.

The kind a route requires is derived from the route's own authentication dependency, and checked
against the path conventions, so a new route cannot slip through unclassified.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import jwt
import nats
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.routing import iter_route_contexts

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.support.actors import bind_partner, operator_token, partner_client, sign_in
from tools.stack import Stack

AUTH_DEPENDENCIES = {
    "current_customer": "customer",
    "current_partner": "partner",
    "current_operator": "operator",
    "current_core_system": "core",
}
PUBLIC_APP_ROUTES = {"/v1/apps/{app_id}/token", "/v1/apps/{app_id}/tickets/redeem"}
SAMPLES = {
    "consent_id": "cst_" + "0" * 32,
    "binding_id": "bnd_" + "a" * 24,
    "partner_id": "ride",
    "pairwise_id": "pw_" + "a" * 32,
}


def _kind_of(dependant: object) -> str:
    """The kind of principal a route authenticates, from its dependency tree ('public': none)."""
    pending, kinds = [dependant], set()
    while pending:
        current = pending.pop()
        name = getattr(current.call, "__name__", "")
        if name in AUTH_DEPENDENCIES:
            kinds.add(AUTH_DEPENDENCIES[name])
        pending.extend(current.dependencies)
    assert len(kinds) <= 1, f"a route authenticates several kinds: {kinds}"
    return kinds.pop() if kinds else "public"


def _routes() -> list[tuple[str, str, str]]:
    """(method, path, kind) of every operation of the gateway's OpenAPI."""
    app = create_app(GatewaySettings(environment="test"))
    documented = app.openapi()["paths"]
    found = []
    for route in iter_route_contexts(app.routes):
        path = re.sub(r":\w+}", "}", route.path or "")  # {position:path} is documented as {position}
        if path in documented and getattr(route, "dependant", None) is not None:
            for method in (route.methods or set()) - {"HEAD"}:
                found.append((method, path, _kind_of(route.dependant)))
    operations = {(m.upper(), p) for p, ops in documented.items() for m in ops}
    assert {(m, p) for m, p, _ in found} == operations, "every documented operation is classified"
    return found


def test_every_route_requires_the_kind_its_path_promises() -> None:
    for method, path, kind in _routes():
        if path.startswith("/v1/apps/{app_id}/") and path not in PUBLIC_APP_ROUTES:
            assert kind == "customer", (method, path, kind)
        elif path.startswith("/v1/ops/") and path != "/v1/ops/token":
            assert kind == "operator", (method, path, kind)
        elif path.startswith("/v1/partner/"):
            assert kind == "partner", (method, path, kind)


@dataclass(frozen=True)
class Credential:
    """Headers of one principal, and the kind it is."""

    name: str
    kind: str
    headers: dict[str, str]


def _identity_signer(stack: Stack) -> tuple[str, object]:
    """Identity's active signing key, read from its database: to mint tokens of kinds no route issues."""
    with sqlite3.connect(stack.config.var_dir / "identity.db") as db:
        kid, pem = db.execute(
            "SELECT kid, private_pem FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC"
        ).fetchone()
    return kid, serialization.load_pem_private_key(pem, password=None)


def _identity_rows(stack: Stack) -> dict[str, int]:
    """Rows of every table of identity's database."""
    with sqlite3.connect(stack.config.var_dir / "identity.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


def _minted(stack: Stack, *, kind: str | None, aud: str) -> str:
    kid, key = _identity_signer(stack)
    now = int(time.time())
    claims = {"iss": "lattice-identity", "aud": aud, "sub": "svc-1", "iat": now, "exp": now + 300}
    claims |= {"jti": uuid.uuid4().hex, "role": "admin", **({"kind": kind} if kind else {})}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})


@pytest.fixture(scope="module")
def credentials(stack: Stack, gateway: httpx.Client) -> Iterator[list[Credential]]:
    customer = sign_in(gateway, "mbank", f"m-kind-{uuid.uuid4().hex[:8]}")
    bind_partner(gateway, customer, "ride", partner_user_ref=f"ride-kind-{uuid.uuid4().hex[:6]}")
    with partner_client(gateway, "ride") as ride:
        started = ride.request("POST", "/v1/partner/bindings", json_body={"partner_user_ref": "ride-kind-2"})
        binding_id = started.json()["binding_id"]
    confirm = f"/v1/apps/mbank/partner-bindings/{binding_id}/confirm"
    gateway.post(confirm, json={"consent": _consent()}, headers=customer.headers)
    with partner_client(gateway, "ride") as ride:
        partner_token = ride.request("POST", f"/v1/partner/bindings/{binding_id}/complete").json()[
            "access_token"
        ]

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    yield [
        Credential("customer token (aud mbank)", "customer", customer.headers),
        Credential(
            "operator token (aud lattice-ops)", "operator", bearer(operator_token(gateway, "hq-admin"))
        ),
        Credential("partner-scoped token (aud partner:ride)", "partner-token", bearer(partner_token)),
        Credential(
            "service token", "service", bearer(_minted(stack, kind="service", aud="service:benefits"))
        ),
        Credential(
            "service kind, app audience", "service", bearer(_minted(stack, kind="service", aud="mbank"))
        ),
        Credential(
            "operator kind, app audience", "operator", bearer(_minted(stack, kind="operator", aud="mbank"))
        ),
        Credential(
            "customer kind, ops audience",
            "customer",
            bearer(_minted(stack, kind="customer", aud="lattice-ops")),
        ),
        Credential("no kind, app audience", "none", bearer(_minted(stack, kind=None, aud="mbank"))),
        Credential("no kind, ops audience", "none", bearer(_minted(stack, kind=None, aud="lattice-ops"))),
    ]


def _consent() -> dict:
    from tools.actors import partner_consent

    return partner_consent("ride")


def _concrete(path: str, *, app_id: str) -> str:
    return re.sub(
        r"{(\w+)}", lambda m: app_id if m.group(1) == "app_id" else SAMPLES.get(m.group(1), "x1234567"), path
    )


class _EventTap:
    """Messages published while the probes run that name one of the probing principals."""

    def __init__(self, url: str, *, markers: set[str]) -> None:
        self.url = url
        self.markers = {m.encode() for m in markers}
        self.subjects: list[str] = []

    async def run(self, probes: object) -> None:
        connection = await nats.connect(self.url)

        async def seen(msg: object) -> None:
            subject, data = msg.subject, msg.data
            if not subject.startswith(("$", "_INBOX")) and any(m in data for m in self.markers):
                self.subjects.append(subject)

        await connection.subscribe(">", cb=seen)
        await connection.flush()
        await asyncio.sleep(1.5)  # the fixture's own events (binding, consent) are out by now
        self.subjects.clear()
        await asyncio.to_thread(probes)
        await asyncio.sleep(2.0)  # the outbox relays within its poll interval
        await connection.close()


def test_no_route_accepts_a_credential_of_another_kind(
    stack: Stack, gateway: httpx.Client, credentials: list[Credential]
) -> None:
    routes = [r for r in _routes() if r[2] != "public"]
    assert len(routes) > 30
    accepted: list[str] = []

    def probes() -> None:
        for method, path, kind in routes:
            for credential in credentials:
                if credential.kind == kind:
                    continue
                for app_id in ("mbank", "lattice-ops", "lattice-identity"):
                    url = _concrete(path, app_id=app_id)
                    body = None if method in ("GET", "DELETE") else {}
                    resp = gateway.request(method, url, json=body, headers=credential.headers)
                    answer = resp.json() if resp.content else None
                    code = answer.get("code") if isinstance(answer, dict) else None
                    refused = resp.status_code in (401, 403) or (
                        app_id != "mbank" and resp.status_code == 404 and code == "app_not_found"
                    )
                    if not refused:
                        accepted.append(f"{credential.name}: {method} {url} -> {resp.status_code} {code}")
                    if "{app_id}" not in path:
                        break

    markers = {
        jwt.decode(c.headers["Authorization"][7:], options={"verify_signature": False})["sub"]
        for c in credentials
    }
    tap = _EventTap(stack.config.nats_url, markers=markers)
    before = _identity_rows(stack)
    asyncio.run(tap.run(probes))
    assert not accepted, "\n".join(accepted[:40])
    assert tap.subjects == [], tap.subjects
    assert _identity_rows(stack) == before  # no consent, session, binding or link written
