"""GET /v1/ops/operators through the gateway: admins only, branch admins only their branch, no secrets."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.identity.demo_data import DEMO_OPERATORS
from tools.actors import operator_headers


def _branch_admin(gateway: httpx.Client, branch: str) -> dict[str, str]:
    operator_id = f"{branch[:2]}-admin-{uuid.uuid4().hex[:6]}"
    created = gateway.post(
        "/v1/ops/operators",
        json={"operator_id": operator_id, "role": "admin", "branch": branch},
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
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _all(gateway: httpx.Client, headers: dict[str, str], **params: object) -> list[dict]:
    items, token = [], None
    while True:
        resp = gateway.get("/v1/ops/operators", params={**params, "page_token": token or ""}, headers=headers)
        assert resp.status_code == 200, resp.text
        items += resp.json()["items"]
        token = resp.json()["next_page_token"]
        if not token:
            return items


def test_head_office_admin_lists_every_operator_without_secrets(gateway: httpx.Client) -> None:
    admin = operator_headers(gateway, "hq-admin")
    listed = _all(gateway, admin, page_size=2)
    by_id = {o["operator_id"]: o for o in listed}
    for operator_id, (role, branch) in DEMO_OPERATORS.items():
        assert by_id[operator_id]["role"] == role
        assert by_id[operator_id]["branch"] == (branch or None)
    assert [o["operator_id"] for o in listed] == sorted(by_id)
    assert all(set(o) == {"operator_id", "role", "branch", "created_at"} for o in listed)
    assert "secret" not in gateway.get("/v1/ops/operators", headers=admin).text
    shanghai = _all(gateway, admin, branch="shanghai")
    assert shanghai and {o["branch"] for o in shanghai} == {"shanghai"}
    head_office = _all(gateway, admin, branch="-")
    assert {o["branch"] for o in head_office} == {None}
    reviewers = _all(gateway, admin, role="reviewer")
    assert reviewers and {o["role"] for o in reviewers} == {"reviewer"}


def test_a_branch_admin_sees_only_its_branch(gateway: httpx.Client) -> None:
    headers = _branch_admin(gateway, "shanghai")
    listed = _all(gateway, headers)
    assert "sh-operator" in {o["operator_id"] for o in listed}
    assert {o["branch"] for o in listed} == {"shanghai"}
    for other in ("beijing", "-"):
        resp = gateway.get("/v1/ops/operators", params={"branch": other}, headers=headers)
        assert resp.status_code == 403
        assert resp.json()["code"] == "branch_scope"


@pytest.mark.parametrize("who", ["hq-viewer", "hq-operator", "hq-reviewer", "sh-operator"])
def test_only_admins_list_operators(gateway: httpx.Client, who: str) -> None:
    resp = gateway.get("/v1/ops/operators", headers=operator_headers(gateway, who))
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert gateway.get("/v1/ops/operators").status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"branch": "Shanghai"},
        {"branch": "x"},
        {"branch": "--"},
        {"role": "root"},
        {"page_size": 0},
        {"page_size": 201},
        {"page_token": "../x"},
        {"page_token": "a" * 41},
    ],  # fmt: skip
)
def test_bad_filters_are_problems(gateway: httpx.Client, params: dict) -> None:
    resp = gateway.get("/v1/ops/operators", params=params, headers=operator_headers(gateway, "hq-admin"))
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
