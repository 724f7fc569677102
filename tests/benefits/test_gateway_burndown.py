"""The budget burn-down through the whole system: per Shanghai day from the ledger, branch-scoped, bounded."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.benefits.test_gateway_benefits import approved_coupon
from tests.support.actors import operator_headers, sign_in


def _today() -> datetime:
    return datetime.now(ZoneInfo("Asia/Shanghai"))


def test_burndown_follows_the_ledger_day_by_day(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(
        gateway, valid_until="2099-01-01T00:00:00Z", valid_days=0, daily_budget=20_000
    )
    b = f"/v1/ops/benefits/{benefit_id}"
    viewer, operator, admin = (operator_headers(gateway, o) for o in ("hq-viewer", "hq-operator", "hq-admin"))
    for _ in range(3):
        customer = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
        claimed = gateway.post(
            "/v1/apps/mbank/grants", json={"benefit_id": benefit_id}, headers=customer.headers
        )
        assert claimed.status_code == 201, claimed.text
    asked = gateway.post(
        f"{b}/top-ups", json={"total_budget_increase": 10_000, "reason": "more riders"}, headers=operator
    )
    change = asked.json()["change_id"]
    assert (
        gateway.post(f"{b}/changes/{change}/review", json={"approve": True}, headers=admin).status_code == 200
    )

    today = _today().date()
    resp = gateway.get(f"{b}/burndown", headers=viewer)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["benefit_id"], body["total_budget"], body["daily_budget"]) == (benefit_id, 60_000, 20_000)
    assert body["days"] == [{"day": today.isoformat(), "added": 60_000, "spent": 1_500, "remaining": 58_500}]
    assert gateway.get(b, headers=viewer).json()["budget_remaining"] == 58_500

    yesterday = (today - timedelta(days=1)).isoformat()
    window = gateway.get(f"{b}/burndown", params={"from": yesterday, "to": today.isoformat()}, headers=viewer)
    assert [(d["day"], d["added"], d["spent"], d["remaining"]) for d in window.json()["days"]] == [
        (yesterday, 0, 0, 0),
        (today.isoformat(), 60_000, 1_500, 58_500),
    ]
    before = gateway.get(f"{b}/burndown", params={"from": yesterday, "to": yesterday}, headers=viewer)
    assert before.json()["days"] == [{"day": yesterday, "added": 0, "spent": 0, "remaining": 0}]


def test_burndown_is_branch_scoped(gateway: httpx.Client) -> None:
    hq_benefit = approved_coupon(gateway)
    sh, bj = operator_headers(gateway, "sh-operator"), operator_headers(gateway, "bj-operator")
    hidden = gateway.get(f"/v1/ops/benefits/{hq_benefit}/burndown", headers=sh)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "benefit_not_found")
    local = f"sh-{uuid.uuid4().hex[:8]}"
    draft = {
        "benefit_id": local,
        "name": "Shanghai coupon",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 100,
        "total_budget": 1_000,
        "usable_scopes": ["app:*"],
        "valid_days": 7,
        "branch": "shanghai",
    }
    assert gateway.post("/v1/ops/benefits", json=draft, headers=sh).status_code == 201
    reviewed = gateway.post(
        f"/v1/ops/benefits/{local}/review",
        json={"approve": True},
        headers=operator_headers(gateway, "hq-reviewer"),
    )
    assert reviewed.status_code == 200, reviewed.text
    own = gateway.get(f"/v1/ops/benefits/{local}/burndown", headers=sh)
    assert own.status_code == 200 and own.json()["days"][-1]["remaining"] == 1_000, own.text
    other = gateway.get(f"/v1/ops/benefits/{local}/burndown", headers=bj)
    assert (other.status_code, other.json()["code"]) == (404, "benefit_not_found")


def test_bad_burndown_requests_are_problems(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway)
    url, viewer = f"/v1/ops/benefits/{benefit_id}/burndown", operator_headers(gateway, "hq-viewer")
    today = _today().date()
    for params, code in [
        ({"from": "2026-1-1"}, "validation_failed"),
        ({"to": "yesterday"}, "validation_failed"),
        ({"from": "2026-02-30"}, "invalid_range"),
        ({"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()}, "invalid_range"),
        ({"from": (today - timedelta(days=366)).isoformat()}, "invalid_range"),
    ]:
        resp = gateway.get(url, params=params, headers=viewer)
        assert (resp.status_code, resp.json()["code"]) == (422, code), (params, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    longest = gateway.get(url, params={"from": (today - timedelta(days=365)).isoformat()}, headers=viewer)
    assert longest.status_code == 200 and len(longest.json()["days"]) == 366
    assert gateway.get("/v1/ops/benefits/Bad!/burndown", headers=viewer).status_code == 422
    assert gateway.get("/v1/ops/benefits/no-such/burndown", headers=viewer).status_code == 404
    assert gateway.get(url).status_code == 401
