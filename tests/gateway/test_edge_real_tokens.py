"""The edge with identity-issued tokens through the running system (demo customers and operators)."""

from __future__ import annotations

import httpx

from tests.support.actors import operator_headers, recognise, sign_in


def test_app_tokens_are_audience_bound_and_not_operator_tokens(gateway: httpx.Client) -> None:
    mbank = sign_in(gateway, "mbank", "m-1001")
    assert gateway.get("/v1/apps/mbank/me", headers=mbank.headers).status_code == 200
    wrong_app = gateway.get("/v1/apps/life/me", headers=mbank.headers)
    assert (wrong_app.status_code, wrong_app.json()["code"]) == (401, "token_audience")
    life = recognise(gateway, mbank, "life")
    assert gateway.get("/v1/apps/life/me", headers=life.headers).status_code == 200
    on_ops = gateway.get("/v1/ops/apps", headers=life.headers)
    assert (on_ops.status_code, on_ops.json()["code"]) == (403, "operator_token_required")


def test_operator_routes_check_role_and_head_office(gateway: httpx.Client) -> None:
    assert gateway.get("/v1/ops/apps", headers=operator_headers(gateway, "sh-operator")).status_code == 200
    branch_admin_only = gateway.post(
        "/v1/ops/apps",
        headers=operator_headers(gateway, "sh-operator"),
        json={"app_id": "edge-x", "name": "X", "role": "vertical", "legal_entity": "Bank"},
    )
    assert branch_admin_only.status_code == 403
    assert gateway.get("/v1/ops/apps").status_code == 401


def test_success_responses_carry_rate_limit_headers(gateway: httpx.Client) -> None:
    resp = gateway.get("/v1/ops/apps", headers=operator_headers(gateway, "hq-viewer"))
    assert resp.status_code == 200
    assert int(resp.headers["ratelimit-remaining"]) < int(resp.headers["ratelimit-limit"])
    assert resp.headers["ratelimit-policy"].endswith(";w=60")
