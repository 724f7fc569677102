"""Consents and partner bindings are owned: every identity route that takes an object id answers 404
to another customer or another partner, and leaves the owner's object as it was.

The routes are enumerated from the gateway's OpenAPI, so a new identity route with an object id
fails here until it is given its foreign-principal probe.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx

from tests.support.actors import bind_partner, partner_client, partner_consent, sign_in

# registry objects, not owned by a customer or partner: head office manages them (tests/gateway)
REGISTRY_ROUTES = {
    ("GET", "/v1/ops/partners/{partner_id}"),
    ("POST", "/v1/ops/partners/{partner_id}/signing-keys"),
}


def _object_routes(openapi: dict) -> set[tuple[str, str]]:
    """Identity routes with a path parameter other than the app."""
    found = set()
    for path, operations in openapi["paths"].items():
        params = set(re.findall(r"{(\w+)}", path)) - {"app_id"}
        for method, operation in operations.items():
            if params and operation.get("x-lattice-area") == "identity":
                found.add((method.upper(), path))
    return found


def test_other_customers_and_partners_get_404_for_every_owned_identity_object(
    gateway: httpx.Client,
) -> None:
    owner = sign_in(gateway, "mbank", f"m-own-{uuid.uuid4().hex[:8]}")
    stranger = sign_in(gateway, "mbank", f"m-other-{uuid.uuid4().hex[:8]}")
    pairwise = bind_partner(gateway, owner, "ride", partner_user_ref=f"ride-{uuid.uuid4().hex[:8]}")
    consents = gateway.get("/v1/apps/mbank/consents", headers=owner.headers).json()["items"]
    consent_id = next(c["consent_id"] for c in consents if c["recipient"] == "ride")
    with partner_client(gateway, "ride") as ride:
        started = ride.request("POST", "/v1/partner/bindings", json_body={"partner_user_ref": "ride-own-2"})
        binding_id = started.json()["binding_id"]
        confirm = f"/v1/apps/mbank/partner-bindings/{binding_id}/confirm"
        body = {"consent": partner_consent("ride")}
        assert gateway.post(confirm, json=body, headers=owner.headers).status_code == 200

    food = partner_client(gateway, "food")
    customer = stranger.headers
    probes: dict[tuple[str, str], Callable[[], httpx.Response]] = {
        ("POST", "/v1/apps/{app_id}/consents/{consent_id}/withdraw"): lambda: gateway.post(
            f"/v1/apps/mbank/consents/{consent_id}/withdraw", headers=customer
        ),
        ("GET", "/v1/apps/{app_id}/partner-bindings/{binding_id}"): lambda: gateway.get(
            f"/v1/apps/mbank/partner-bindings/{binding_id}", headers=customer
        ),
        ("POST", "/v1/apps/{app_id}/partner-bindings/{binding_id}/confirm"): lambda: gateway.post(
            f"/v1/apps/mbank/partner-bindings/{binding_id}/confirm", json=body, headers=customer
        ),
        ("DELETE", "/v1/apps/{app_id}/partner-links/{partner_id}"): lambda: gateway.delete(
            "/v1/apps/mbank/partner-links/ride", headers=customer
        ),
        ("GET", "/v1/partner/bindings/{binding_id}"): lambda: food.request(
            "GET", f"/v1/partner/bindings/{binding_id}"
        ),
        ("POST", "/v1/partner/bindings/{binding_id}/complete"): lambda: food.request(
            "POST", f"/v1/partner/bindings/{binding_id}/complete"
        ),
        ("GET", "/v1/partner/customers/{pairwise_id}"): lambda: food.request(
            "GET", f"/v1/partner/customers/{pairwise}"
        ),
        ("DELETE", "/v1/partner/customers/{pairwise_id}"): lambda: food.request(
            "DELETE", f"/v1/partner/customers/{pairwise}"
        ),
    }
    routes = _object_routes(gateway.get("/openapi.json").json())
    assert routes - REGISTRY_ROUTES == set(probes), "an identity route with an object id has no probe"

    answers = {route: probe() for route, probe in probes.items()}
    food.close()
    wrong = {
        f"{m} {p}": (r.status_code, r.text[:120]) for (m, p), r in answers.items() if r.status_code != 404
    }
    assert not wrong, wrong

    # the owner's objects are untouched
    consents = gateway.get("/v1/apps/mbank/consents", headers=owner.headers).json()["items"]
    assert all(c["withdrawn_at"] is None for c in consents if c["consent_id"] == consent_id)
    assert (
        gateway.get(f"/v1/apps/mbank/partner-bindings/{binding_id}", headers=owner.headers).status_code == 200
    )
    with partner_client(gateway, "ride") as ride:
        assert ride.request("GET", f"/v1/partner/customers/{pairwise}").status_code == 200
        assert ride.request("GET", f"/v1/partner/bindings/{binding_id}").status_code == 200
