"""Operators run a live benefit through the gateway (four eyes on money, audited), and every money or
count field of every benefits route is a strict integer (whole system)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.benefits.test_gateway_benefits import approved_coupon
from tests.support.actors import operator_headers, partner_client, sign_in

EXPONENT = "__1e2__"  # sent as the JSON number literal 1e2
BAD_NUMBERS: list[Any] = [
    True,
    False,
    "100",
    100.0,
    EXPONENT,
    100.5,
    -1,
    2**63,
    10**12 + 1,
    [100],
    {"v": 100},
]


def test_pause_resume_top_up_extend_and_stop_are_reviewed_and_audited(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, valid_until="2099-01-01T00:00:00Z", valid_days=0)
    b = f"/v1/ops/benefits/{benefit_id}"
    operator, reviewer, admin = (
        operator_headers(gateway, o) for o in ("hq-operator", "hq-reviewer", "hq-admin")
    )
    customer = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")

    def claim() -> httpx.Response:
        return gateway.post(
            "/v1/apps/mbank/grants", json={"benefit_id": benefit_id}, headers=customer.headers
        )

    assert gateway.post(f"{b}/pause", json={}, headers=operator).status_code == 422  # a reason is required
    assert (
        gateway.post(f"{b}/pause", json={"reason": "fraud check"}, headers=operator).json()["status"]
        == "paused"
    )
    paused = claim()
    assert (paused.status_code, paused.json()["code"]) == (409, "benefit_paused")
    assert (
        gateway.post(f"{b}/resume", json={"reason": "cleared"}, headers=operator).json()["status"]
        == "approved"
    )
    assert claim().status_code == 201

    top_up = {"total_budget_increase": 10_000, "daily_budget": 5_000, "reason": "more riders"}
    asked = gateway.post(f"{b}/top-ups", json=top_up, headers=reviewer)
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    pending = gateway.get(f"{b}/changes", params={"status": "pending"}, headers=admin).json()["items"]
    assert [(c["change_id"], c["requested_by"]) for c in pending] == [
        (asked.json()["change_id"], "hq-reviewer")
    ]
    review = f"{b}/changes/{asked.json()['change_id']}/review"
    assert gateway.get(b, headers=admin).json()["total_budget"] == 50_000  # not before the review
    own = gateway.post(review, json={"approve": True}, headers=reviewer)
    assert (own.status_code, own.json()["code"]) == (403, "self_approval")
    not_a_reviewer = gateway.post(review, json={"approve": True}, headers=operator)
    assert (not_a_reviewer.status_code, not_a_reviewer.json()["code"]) == (403, "role_required")
    approved = gateway.post(review, json={"approve": True, "note": "budget line 7"}, headers=admin)
    assert approved.status_code == 200, approved.text
    benefit = approved.json()["benefit"]
    assert (benefit["total_budget"], benefit["daily_budget"], benefit["budget_remaining"]) == (
        60_000,
        5_000,
        59_500,
    )

    extension = gateway.post(
        f"{b}/extensions", json={"valid_until": "2100-01-01T00:00:00Z", "reason": "season"}, headers=operator
    )
    assert extension.status_code == 201, extension.text
    ext_review = f"{b}/changes/{extension.json()['change_id']}/review"
    assert gateway.post(ext_review, json={"approve": True}, headers=reviewer).status_code == 200
    assert gateway.get(b, headers=admin).json()["valid_until"].startswith("2100-01-01")

    stopped = gateway.post(f"{b}/stop", json={"reason": "campaign over"}, headers=operator)
    assert stopped.json()["status"] == "stopped" and stopped.json()["budget_remaining"] == 0, stopped.text
    final = gateway.post(f"{b}/resume", json={"reason": "oops"}, headers=operator)
    assert (final.status_code, final.json()["code"]) == (409, "cannot_resume")
    assert claim().json()["code"] == "benefit_stopped"

    trail = gateway.get(f"{b}/audit", headers=operator_headers(gateway, "hq-viewer"))
    assert trail.status_code == 200, trail.text
    assert [(r["action"], r["actor_id"], r["reason"]) for r in trail.json()["items"]][2:] == [
        ("paused", "hq-operator", "fraud check"),
        ("resumed", "hq-operator", "cleared"),
        ("top_up_requested", "hq-reviewer", "more riders"),
        ("top_up_approved", "hq-admin", "budget line 7"),
        ("extend_requested", "hq-operator", "season"),
        ("extend_approved", "hq-reviewer", ""),
        ("stopped", "hq-operator", "campaign over"),
    ]
    unknown = gateway.get("/v1/ops/benefits/no-such-benefit/audit", headers=admin)
    assert unknown.status_code == 404 and unknown.json()["code"] == "benefit_not_found"
    balanced = gateway.get("/v1/ops/benefits-ledger/check", headers=admin).json()
    assert balanced["balanced"] is True, balanced


def money_routes(gateway: httpx.Client) -> dict[tuple[str, str], list[str]]:
    """Every benefits route whose body has integer (or boolean) fields, from the OpenAPI document."""
    document = gateway.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    found: dict[tuple[str, str], list[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("x-lattice-area") != "benefits" or "requestBody" not in operation:
                continue
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            properties = schemas[ref.rsplit("/", 1)[1]]["properties"]
            fields = [
                name
                for name, spec in properties.items()
                if {t.get("type") for t in spec.get("anyOf", [spec])} & {"integer", "boolean"}
            ]
            if fields:
                found[(method.upper(), path)] = fields
    return found


def test_every_money_and_count_field_is_a_strict_integer(gateway: httpx.Client) -> None:
    customer = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    ops = operator_headers(gateway, "hq-admin")
    rid = uuid.uuid4().hex
    draft = {
        "benefit_id": f"st-{uuid.uuid4().hex[:8]}",
        "name": "Strict",
        "kind": "discount_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "discount_bps": 1_000,
        "total_budget": 5_000,
        "daily_budget": 1_000,
        "min_order_amount": 100,
        "per_customer_limit": 1,
        "valid_days": 3,
        "usable_scopes": ["app:*"],
        "stackable": False,
        "claimable": True,
    }
    # a valid body per route (its answer is not a validation failure), and who sends it
    valid: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
        ("POST", "/v1/ops/benefits"): ("ops", draft),
        ("POST", "/v1/ops/benefits/{benefit_id}/review"): ("ops", {"approve": True}),
        ("POST", "/v1/ops/benefits/{benefit_id}/top-ups"): (
            "ops",
            {"total_budget_increase": 1, "reason": "x"},
        ),
        ("POST", "/v1/ops/benefits/{benefit_id}/changes/{change_id}/review"): ("ops", {"approve": True}),
        ("POST", "/v1/apps/{app_id}/redemptions"): (
            "app",
            {"benefit_id": "no-such", "amount": 1, "order_amount": 100, "hold_seconds": 60},
        ),
        ("POST", "/v1/apps/{app_id}/redemptions/{redemption_id}/refunds"): ("app", {"amount": 100}),
        ("POST", "/v1/partner/redemptions"): (
            "partner",
            {
                "pairwise_id": "nobody",
                "benefit_id": "no-such",
                "amount": 1,
                "order_amount": 100,
                "hold_seconds": 60,
            },
        ),
        ("POST", "/v1/partner/redemptions/{redemption_id}/refunds"): (
            "partner",
            {"pairwise_id": "x", "amount": 100},
        ),
    }
    routes = money_routes(gateway)
    assert set(routes) == set(valid), set(routes) ^ set(valid)
    ids = {"benefit_id": "no-such", "change_id": rid, "redemption_id": rid, "app_id": "mbank"}
    with partner_client(gateway, "ride") as ride:

        def send(route: tuple[str, str], who: str, body: dict[str, Any]) -> httpx.Response:
            path = route[1].format(**ids)
            raw = json.dumps(body).replace(f'"{EXPONENT}"', "1e2").encode()
            headers = {"Content-Type": "application/json"}
            if who == "partner":
                url = str(gateway.base_url.join(path))
                headers.update(ride.signer.headers(method=route[0], url=url, body=raw))
            else:
                headers.update(ops if who == "ops" else customer.headers)
            return gateway.request(route[0], path, content=raw, headers=headers)

        for route, fields in routes.items():
            who, body = valid[route]
            base = send(route, who, body)
            assert base.status_code != 422, f"{route}: {base.text}"
            for field in fields:
                is_flag = isinstance(body.get(field, 0), bool)
                for bad in [1, "true", 0.0, None] if is_flag else BAD_NUMBERS:
                    resp = send(route, who, {**body, field: bad})
                    assert resp.status_code == 422, f"{route} {field}={bad!r}: {resp.status_code} {resp.text}"
                    assert resp.json()["code"] == "validation_failed", resp.text
