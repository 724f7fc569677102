"""Benefits through the gateway as an app, a partner and operators would use it (whole system)."""

from __future__ import annotations

import sqlite3
import uuid

import httpx

from tests.support.actors import bind_partner, operator_headers, partner_client, recognise, sign_in
from tools.stack import Stack


def approved_coupon(gateway: httpx.Client, **fields: object) -> str:
    benefit_id = f"gw-{uuid.uuid4().hex[:8]}"
    draft = {
        "benefit_id": benefit_id,
        "name": "Ride coupon",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*", "partner:ride"],
        "valid_days": 7,
        "claimable": True,
        **fields,
    }
    drafted = gateway.post("/v1/ops/benefits", json=draft, headers=operator_headers(gateway, "hq-operator"))
    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["status"] == "draft"
    review = {"approve": True, "note": "within the campaign budget"}
    own = gateway.post(
        f"/v1/ops/benefits/{benefit_id}/review", json=review, headers=operator_headers(gateway, "hq-operator")
    )
    assert own.status_code == 403 and own.json()["code"] == "role_required"
    approved = gateway.post(
        f"/v1/ops/benefits/{benefit_id}/review", json=review, headers=operator_headers(gateway, "hq-reviewer")
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["budget_remaining"]) == ("approved", 50_000)
    return benefit_id


def test_per_customer_limit_holds_across_apps_and_partner_pseudonyms(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, per_customer_limit=2)
    mbank = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    life = recognise(gateway, mbank, "life")
    pairwise = bind_partner(gateway, mbank, "ride", partner_user_ref=f"ride-{uuid.uuid4().hex[:8]}")
    use = {"benefit_id": benefit_id, "order_amount": 3_000, "order_ref": "order-1"}
    for session in (mbank, life):
        resp = gateway.post(f"/v1/apps/{session.app_id}/redemptions", json=use, headers=session.headers)
        assert resp.status_code == 201, resp.text
        assert (resp.json()["status"], resp.json()["amount"]) == ("confirmed", 500)
    with partner_client(gateway, "ride") as ride:
        wallet = ride.request("GET", f"/v1/partner/customers/{pairwise}/wallet")
        assert wallet.status_code == 200, wallet.text
        assert mbank.customer_id not in wallet.text
        third = ride.request("POST", "/v1/partner/redemptions", json_body={**use, "pairwise_id": pairwise})
    assert third.status_code == 409, third.text
    assert third.headers["content-type"].startswith("application/problem+json")
    assert third.json()["code"] == "limit_exceeded"


def test_holds_refunds_and_validation_through_the_gateway(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway)
    session = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    url = "/v1/apps/mbank/redemptions"
    bad = gateway.post(url, json={"benefit_id": benefit_id, "surprise": 1}, headers=session.headers)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    assert gateway.post(url, json={"benefit_id": benefit_id}).status_code == 401
    headers = {**session.headers, "Idempotency-Key": f"hold-{uuid.uuid4().hex}"}
    held = gateway.post(
        url, json={"benefit_id": benefit_id, "order_amount": 2_000, "hold_seconds": 60}, headers=headers
    )
    assert held.status_code == 201 and held.json()["status"] == "held", held.text
    rid = held.json()["redemption_id"]
    confirmed = gateway.post(f"{url}/{rid}/confirm", headers=session.headers)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed", confirmed.text
    refund = gateway.post(f"{url}/{rid}/refunds", json={"ratio_bps": 4_000}, headers=session.headers)
    assert refund.status_code == 200, refund.text
    assert refund.json()["refunded"] == 200
    wallet = gateway.get("/v1/apps/mbank/wallet", headers=session.headers).json()
    assert [(g["benefit_id"], g["remaining"]) for g in wallet["grants"]] == [(benefit_id, 200)]
    other = gateway.post(f"{url}/{rid}/cancel", headers=session.headers)
    assert other.status_code == 409 and other.json()["code"] == "already_confirmed"
    ledger = gateway.get("/v1/ops/benefits-ledger/check", headers=operator_headers(gateway, "hq-admin"))
    assert ledger.status_code == 200 and ledger.json()["balanced"] is True, ledger.text


def test_an_edition_limited_benefit_is_claimed_only_in_that_edition(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, eligible_editions=["elderly"])
    elderly = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}", editions=["elderly"])
    standard = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    claim = {"benefit_id": benefit_id}
    granted = gateway.post("/v1/apps/mbank/grants", json=claim, headers=elderly.headers)
    assert granted.status_code == 201, granted.text
    assert granted.json()["benefit_id"] == benefit_id
    refused = gateway.post("/v1/apps/mbank/grants", json=claim, headers=standard.headers)
    assert 400 <= refused.status_code < 500, refused.text
    assert refused.json()["code"] == "not_eligible"
    unknown = gateway.post(
        "/v1/ops/benefits",
        json={
            "benefit_id": f"gw-{uuid.uuid4().hex[:8]}",
            "name": "Gold coupon",
            "kind": "fixed_coupon",
            "funder": "dept:retail",
            "face_value": 500,
            "total_budget": 50_000,
            "usable_scopes": ["app:*"],
            "valid_days": 7,
            "eligible_editions": ["gold"],
        },
        headers=operator_headers(gateway, "hq-operator"),
    )
    assert unknown.status_code == 422, unknown.text


def test_a_locked_database_is_a_retryable_503_before_the_gateways_deadline(
    gateway: httpx.Client, stack: Stack
) -> None:
    benefit_id = approved_coupon(gateway)
    customer = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    claim = {"benefit_id": benefit_id}
    headers = {**customer.headers, "Idempotency-Key": uuid.uuid4().hex}
    assert gateway.get("/v1/apps/mbank/wallet", headers=customer.headers).status_code == 200
    # another writer holds benefits' database far longer than the gateway's 5 s request timeout
    holder = sqlite3.connect(stack.config.var_dir / "benefits.db", timeout=10, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        busy = gateway.post("/v1/apps/mbank/grants", json=claim, headers=headers)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.status_code == 503, busy.text  # the service's answer, not the gateway's 504
    assert busy.json()["code"] == "database_busy"
    assert busy.headers["Retry-After"] == "1"
    retried = gateway.post("/v1/apps/mbank/grants", json=claim, headers=headers)
    assert retried.status_code == 201, retried.text  # the busy attempt left nothing behind
    wallet = gateway.get("/v1/apps/mbank/wallet", headers=customer.headers).json()
    assert [g["benefit_id"] for g in wallet["grants"]].count(benefit_id) == 1
