"""Every benefits route that takes an object id, tried by every other kind and instance of caller
(whole system): each answers 404 and nothing changes; the owner can still act afterwards."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.benefits.test_gateway_benefits import approved_coupon
from tests.support.actors import Session, bind_partner, operator_headers, partner_client, recognise, sign_in

OBJECT_IDS = re.compile(r"\{(redemption_id|grant_id|benefit_id|change_id|account_id|pairwise_id)\}")
REFUND = {"ratio_bps": 5_000}


@dataclass
class Customer:
    mbank: Session
    life: Session
    ride: str  # ride's pairwise id for this customer
    food: str


def new_customer(gateway: httpx.Client) -> Customer:
    mbank = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    return Customer(
        mbank=mbank,
        life=recognise(gateway, mbank, "life"),
        ride=bind_partner(gateway, mbank, "ride", partner_user_ref=f"r-{uuid.uuid4().hex[:8]}"),
        food=bind_partner(gateway, mbank, "food", partner_user_ref=f"f-{uuid.uuid4().hex[:8]}"),
    )


def partner_call(gateway: httpx.Client, partner_id: str, method: str, path: str, body: object = None):
    with partner_client(gateway, partner_id) as partner:
        return (
            partner.request(method, path, json_body=body)
            if body is not None
            else partner.request(method, path)
        )


def app_redeem(gateway: httpx.Client, session: Session, benefit_id: str, hold: bool) -> str:
    body = {"benefit_id": benefit_id, "order_amount": 2_000, **({"hold_seconds": 600} if hold else {})}
    resp = gateway.post(f"/v1/apps/{session.app_id}/redemptions", json=body, headers=session.headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["redemption_id"])


def partner_redeem(gateway: httpx.Client, partner_id: str, pairwise: str, benefit_id: str, hold: bool) -> str:
    body = {"benefit_id": benefit_id, "order_amount": 2_000, "pairwise_id": pairwise}
    resp = partner_call(
        gateway,
        partner_id,
        "POST",
        "/v1/partner/redemptions",
        {**body, **({"hold_seconds": 600} if hold else {})},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["redemption_id"])


Attack = Callable[[str], httpx.Response]


def app_attacks(gateway: httpx.Client, session: Session) -> dict[str, Attack]:
    base = f"/v1/apps/{session.app_id}/redemptions"
    return {
        "POST /v1/apps/{app_id}/redemptions/{redemption_id}/{action}": lambda rid: _both(
            gateway.post(f"{base}/{rid}/confirm", headers=session.headers),
            gateway.post(f"{base}/{rid}/cancel", headers=session.headers),
        ),
        "POST /v1/apps/{app_id}/redemptions/{redemption_id}/refunds": lambda rid: gateway.post(
            f"{base}/{rid}/refunds", json=REFUND, headers=session.headers
        ),
        "GET /v1/apps/{app_id}/redemptions/{redemption_id}": lambda rid: gateway.get(
            f"{base}/{rid}", headers=session.headers
        ),
    }


def partner_attacks(gateway: httpx.Client, partner_id: str, pairwise: str) -> dict[str, Attack]:
    ref = {"pairwise_id": pairwise}
    call = lambda path, body: partner_call(gateway, partner_id, "POST", path, body)  # noqa: E731
    return {
        "POST /v1/partner/redemptions/{redemption_id}/{action}": lambda rid: _both(
            call(f"/v1/partner/redemptions/{rid}/confirm", ref),
            call(f"/v1/partner/redemptions/{rid}/cancel", ref),
        ),
        "POST /v1/partner/redemptions/{redemption_id}/refunds": lambda rid: call(
            f"/v1/partner/redemptions/{rid}/refunds", {**ref, **REFUND}
        ),
    }


def _both(first: httpx.Response, second: httpx.Response) -> httpx.Response:
    assert first.status_code == 404, f"{first.request.url.path}: {first.status_code} {first.text}"
    return second


def assert_not_found(resp: httpx.Response, what: str) -> None:
    assert resp.status_code == 404, f"{what}: {resp.status_code} {resp.text}"
    assert resp.headers["content-type"].startswith("application/problem+json")


def wallet(gateway: httpx.Client, session: Session) -> list[tuple[str, str, int, int]]:
    grants = gateway.get(f"/v1/apps/{session.app_id}/wallet", headers=session.headers).json()["grants"]
    return sorted((g["grant_id"], g["status"], g["remaining"], g["held"]) for g in grants)


def benefit_routes_with_ids() -> set[str]:
    """Every benefits route (apps, partner, ops) with an object id in its path."""
    from gateway.routes import benefits

    return {
        f"{method} {route.path}"
        for router in benefits.routers
        for route in router.routes
        for method in getattr(route, "methods", set()) - {"HEAD"}
        if OBJECT_IDS.search(getattr(route, "path", ""))
    }


def test_redemptions_are_acted_on_only_by_the_app_or_partner_that_made_them(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, usable_scopes=["app:*", "partner:ride", "partner:food"])
    owner, other = new_customer(gateway), new_customer(gateway)
    app_held = app_redeem(gateway, owner.mbank, benefit_id, hold=True)
    app_done = app_redeem(gateway, owner.mbank, benefit_id, hold=False)
    ride_held = partner_redeem(gateway, "ride", owner.ride, benefit_id, hold=True)
    ride_done = partner_redeem(gateway, "ride", owner.ride, benefit_id, hold=False)
    admin = operator_headers(gateway, "hq-admin")
    before = wallet(gateway, owner.mbank), gateway.get(f"/v1/ops/benefits/{benefit_id}", headers=admin).json()

    strangers_to_app = {
        "another customer of the same app": app_attacks(gateway, other.mbank),
        "the same customer in another app": app_attacks(gateway, owner.life),
        "the partner, for the app's redemption": partner_attacks(gateway, "ride", owner.ride),
        "another partner": partner_attacks(gateway, "food", owner.food),
    }
    strangers_to_ride = {
        "the customer, through the app": app_attacks(gateway, owner.mbank),
        "the customer, through another app": app_attacks(gateway, owner.life),
        "another partner": partner_attacks(gateway, "food", owner.food),
        "the partner, for another customer": partner_attacks(gateway, "ride", other.ride),
    }
    tried = set()
    for strangers, objects in (
        (strangers_to_app, (app_held, app_done)),
        (strangers_to_ride, (ride_held, ride_done)),
    ):
        for who, attacks in strangers.items():
            for route, attack in attacks.items():
                for rid in objects:
                    assert_not_found(attack(rid), f"{who} on {route}")
                    tried.add(route)

    assert (
        wallet(gateway, owner.mbank),
        gateway.get(f"/v1/ops/benefits/{benefit_id}", headers=admin).json(),
    ) == before
    # the owners still can: the app confirms and refunds its own, the partner its own
    mine = app_attacks(gateway, owner.mbank)
    assert (
        gateway.post(
            f"/v1/apps/mbank/redemptions/{app_held}/confirm", headers=owner.mbank.headers
        ).status_code
        == 200
    )
    assert mine["POST /v1/apps/{app_id}/redemptions/{redemption_id}/refunds"](app_done).status_code == 200
    ride = partner_attacks(gateway, "ride", owner.ride)
    assert ride["POST /v1/partner/redemptions/{redemption_id}/refunds"](ride_done).status_code == 200
    cancelled = partner_call(
        gateway, "ride", "POST", f"/v1/partner/redemptions/{ride_held}/cancel", {"pairwise_id": owner.ride}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text

    other_wallet = partner_call(gateway, "food", "GET", f"/v1/partner/customers/{owner.ride}/wallet")
    assert_not_found(other_wallet, "another partner's pairwise id")
    tried.add("GET /v1/partner/customers/{pairwise_id}/wallet")
    tried |= ops_routes_tried_by_another_branch(gateway)
    assert tried == benefit_routes_with_ids(), benefit_routes_with_ids() ^ tried


def branch_operator(gateway: httpx.Client, role: str, branch: str) -> dict[str, str]:
    """A freshly registered branch operator's headers (registered by head office)."""
    operator_id = f"{branch[:2]}-{role}-{uuid.uuid4().hex[:6]}"
    created = gateway.post(
        "/v1/ops/operators",
        json={"operator_id": operator_id, "role": role, "branch": branch},
        headers=operator_headers(gateway, "hq-admin"),
    )
    assert created.status_code == 201, created.text
    token = gateway.post(
        "/v1/ops/token",
        json={
            "grant_type": "client_credentials",
            "client_id": operator_id,
            "client_secret": created.json()["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def ops_routes_tried_by_another_branch(gateway: httpx.Client) -> set[str]:
    """A Shanghai benefit, its grant, change and accounts, tried by Beijing operators and reviewers: 404."""
    sh, sh_reviewer = (
        operator_headers(gateway, "sh-operator"),
        branch_operator(gateway, "reviewer", "shanghai"),
    )
    bj_operator, bj_reviewer = (
        operator_headers(gateway, "bj-operator"),
        branch_operator(gateway, "reviewer", "beijing"),
    )
    benefit_id = f"sh-{uuid.uuid4().hex[:8]}"
    draft = {
        "benefit_id": benefit_id,
        "name": "Shanghai coupon",
        "kind": "fixed_coupon",
        "funder": "dept:shanghai",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*"],
        "claimable": True,
        "valid_until": "2099-01-01T00:00:00Z",
    }
    assert gateway.post("/v1/ops/benefits", json=draft, headers=sh).status_code == 201
    review = {"approve": True, "note": "ok"}
    b = f"/v1/ops/benefits/{benefit_id}"
    assert_not_found(
        gateway.post(f"{b}/review", json=review, headers=bj_reviewer), "another branch's reviewer"
    )
    assert gateway.post(f"{b}/review", json=review, headers=sh_reviewer).status_code == 200
    customer = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    grant = gateway.post("/v1/apps/mbank/grants", json={"benefit_id": benefit_id}, headers=customer.headers)
    assert grant.status_code == 201, grant.text
    grant_id = grant.json()["grant_id"]
    change = gateway.post(f"{b}/top-ups", json={"total_budget_increase": 1_000, "reason": "more"}, headers=sh)
    assert change.status_code == 201, change.text
    change_id = change.json()["change_id"]
    before = gateway.get(b, headers=sh).json(), gateway.get(f"{b}/audit", headers=sh).json()
    reason = {"reason": "not yours"}
    attempts = {
        "GET /v1/ops/benefits/{benefit_id}": gateway.get(b, headers=bj_operator),
        "POST /v1/ops/benefits/{benefit_id}/review": gateway.post(
            f"{b}/review", json=review, headers=bj_reviewer
        ),
        "GET /v1/ops/benefits/{benefit_id}/audit": gateway.get(f"{b}/audit", headers=bj_operator),
        "GET /v1/ops/benefits/{benefit_id}/changes": gateway.get(f"{b}/changes", headers=bj_operator),
        "GET /v1/ops/benefits/{benefit_id}/burndown": gateway.get(f"{b}/burndown", headers=bj_operator),
        "POST /v1/ops/benefits/{benefit_id}/{action}": gateway.post(
            f"{b}/pause", json=reason, headers=bj_operator
        ),
        "POST /v1/ops/benefits/{benefit_id}/top-ups": gateway.post(
            f"{b}/top-ups", json={"total_budget_increase": 1, "reason": "x"}, headers=bj_operator
        ),
        "POST /v1/ops/benefits/{benefit_id}/extensions": gateway.post(
            f"{b}/extensions",
            json={"valid_until": "2100-01-01T00:00:00Z", "reason": "x"},
            headers=bj_operator,
        ),
        "POST /v1/ops/benefits/{benefit_id}/changes/{change_id}/review": gateway.post(
            f"{b}/changes/{change_id}/review", json=review, headers=bj_reviewer
        ),
        "POST /v1/ops/grants/{grant_id}/revoke": gateway.post(
            f"/v1/ops/grants/{grant_id}/revoke", headers=bj_operator
        ),
        "GET /v1/ops/benefits-ledger/accounts/{account_id}/balance": gateway.get(
            f"/v1/ops/benefits-ledger/accounts/budget:{benefit_id}/balance", headers=bj_operator
        ),
    }
    for route, resp in attempts.items():
        assert_not_found(resp, f"another branch on {route}")
    for action in ("resume", "stop"):
        assert_not_found(gateway.post(f"{b}/{action}", json=reason, headers=bj_operator), action)
    grant_account = f"/v1/ops/benefits-ledger/accounts/grant:{grant_id}/balance"
    assert_not_found(gateway.get(grant_account, headers=bj_operator), "another branch's lot")
    assert gateway.get(grant_account, headers=sh).json()["balance"] == 500
    listed = [x["benefit_id"] for x in gateway.get("/v1/ops/benefits", headers=bj_operator).json()["items"]]
    assert benefit_id not in listed
    assert (gateway.get(b, headers=sh).json(), gateway.get(f"{b}/audit", headers=sh).json()) == before
    return set(attempts)
