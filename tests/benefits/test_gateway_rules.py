"""Benefit kinds and rules the catalogue accepts, each exercised through the gateway (whole system):
rate coupons, perks, eligible apps, minimum assurance level, earliest-expiring lots first, refusal
of expired lots, the daily budget, and the journal's balance as of a time."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.benefits.test_gateway_benefits import approved_coupon
from tests.support.actors import Session, operator_headers, sign_in


def customer(gateway: httpx.Client, app_id: str = "mbank", assurance_level: int = 2) -> Session:
    return sign_in(gateway, app_id, f"{app_id[0]}-{uuid.uuid4().hex[:10]}", assurance_level=assurance_level)


def claim(gateway: httpx.Client, session: Session, benefit_id: str) -> httpx.Response:
    return gateway.post(
        f"/v1/apps/{session.app_id}/grants", json={"benefit_id": benefit_id}, headers=session.headers
    )


def use(gateway: httpx.Client, session: Session, **body: object) -> httpx.Response:
    return gateway.post(f"/v1/apps/{session.app_id}/redemptions", json=body, headers=session.headers)


def lots(gateway: httpx.Client, session: Session) -> list[tuple[str, int]]:
    grants = gateway.get(f"/v1/apps/{session.app_id}/wallet", headers=session.headers).json()["grants"]
    return [(g["status"], g["remaining"]) for g in grants]


def refused(resp: httpx.Response, code: str) -> None:
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["code"] == code, resp.text


def test_a_rate_coupon_covers_interest_up_to_its_value(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, kind="rate_coupon", rate_bps=150, face_value=800)
    someone = customer(gateway)
    assert claim(gateway, someone, benefit_id).status_code == 201
    refused(use(gateway, someone, benefit_id=benefit_id), "amount_required")
    done = use(gateway, someone, benefit_id=benefit_id, amount=1_200)
    assert (done.status_code, done.json()["amount"]) == (201, 800), done.text
    assert lots(gateway, someone) == []  # used up: single use


def test_a_perk_is_spent_one_use_at_a_time(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, kind="perk", face_value=3)
    someone = customer(gateway)
    assert claim(gateway, someone, benefit_id).status_code == 201
    for left in (2, 1):
        assert use(gateway, someone, benefit_id=benefit_id).json()["amount"] == 1
        assert lots(gateway, someone) == [("active", left)]
    refused(use(gateway, someone, benefit_id=benefit_id, amount=2), "insufficient_balance")


def test_eligible_apps_and_minimum_assurance_level_limit_who_gets_it(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, eligible_apps=["life"], min_assurance_level=3)
    refused(claim(gateway, customer(gateway, "mbank", 3), benefit_id), "not_eligible")
    refused(claim(gateway, customer(gateway, "life", 2), benefit_id), "not_eligible")
    assert claim(gateway, customer(gateway, "life", 3), benefit_id).status_code == 201


def test_points_are_spent_from_the_earliest_expiring_lot_first(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, kind="points", face_value=1_000, valid_days=30)
    someone = customer(gateway)
    assert claim(gateway, someone, benefit_id).status_code == 201
    time.sleep(0.05)
    assert claim(gateway, someone, benefit_id).status_code == 201
    assert use(gateway, someone, benefit_id=benefit_id, amount=1_300).status_code == 201
    assert lots(gateway, someone) == [("active", 0), ("active", 700)]  # wallet order: earliest expiry first


def test_an_expired_lot_is_refused(gateway: httpx.Client) -> None:
    ends = datetime.now(UTC) + timedelta(seconds=8)
    benefit_id = approved_coupon(
        gateway, kind="points", face_value=100, valid_days=0, valid_until=ends.isoformat()
    )
    someone = customer(gateway)
    assert claim(gateway, someone, benefit_id).status_code == 201
    assert use(gateway, someone, benefit_id=benefit_id, amount=10).status_code == 201
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.5)
    refused(use(gateway, someone, benefit_id=benefit_id, amount=10), "expired")


def test_the_daily_budget_stops_grants_for_the_day(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, face_value=500, daily_budget=1_000)
    assert [claim(gateway, customer(gateway), benefit_id).status_code for _ in range(2)] == [201, 201]
    refused(claim(gateway, customer(gateway), benefit_id), "budget_exhausted")


def test_the_journal_answers_an_accounts_balance_as_of_a_time(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway, face_value=500)
    viewer = operator_headers(gateway, "hq-viewer")
    url = f"/v1/ops/benefits-ledger/accounts/budget:{benefit_id}/balance"
    before = datetime.now(UTC)
    time.sleep(0.05)
    assert claim(gateway, customer(gateway), benefit_id).status_code == 201
    then = gateway.get(url, params={"as_of": before.isoformat()}, headers=viewer)
    now = gateway.get(url, headers=viewer)
    assert (then.status_code, then.json()["balance"]) == (200, 50_000), then.text
    assert now.json()["balance"] == 49_500
    naive = gateway.get(url, params={"as_of": "2026-01-01T00:00:00"}, headers=viewer)
    assert naive.status_code == 422  # a time without its zone is ambiguous
    unknown = gateway.get("/v1/ops/benefits-ledger/accounts/budget:no-such/balance", headers=viewer)
    assert unknown.status_code == 404 and unknown.json()["code"] == "account_not_found"
