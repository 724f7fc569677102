"""Bad requests get RFC 9457 problems with 4xx, never a 500 or a stack trace."""

from __future__ import annotations

import httpx
import pytest

CASES = [
    ("GET", "/v1/no-such-route", None, {}),
    ("DELETE", "/healthz", None, {}),
    ("POST", "/v1/ops/partners", b"{not json", {"content-type": "application/json"}),
    ("POST", "/v1/ops/partners", b'{"partner_id": 12, "name": ["x"]}', {"content-type": "application/json"}),
    ("POST", "/v1/ops/partners", b"\xff\xfe\x00garbage", {"content-type": "application/json"}),
    ("GET", "/v1/ops/partners?page_size=-5", None, {}),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), CASES)
def test_bad_requests_are_4xx_problems(gateway: httpx.Client, method: str, path: str, body, headers) -> None:
    resp = gateway.request(method, path, content=body, headers=headers)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == resp.status_code
    assert problem["type"] == f"/problems/{problem['code']}"
    assert problem["code"]
    assert "Traceback" not in resp.text and 'File "' not in resp.text


def test_oversized_body_is_413(gateway: httpx.Client) -> None:
    resp = gateway.post(
        "/v1/ops/partners",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.json()["code"] == "body_too_large"


def test_every_response_carries_a_request_id(gateway: httpx.Client) -> None:
    resp = gateway.get("/healthz", headers={"x-request-id": "abcdef0123456789"})
    assert resp.headers["x-request-id"] == "abcdef0123456789"
    assert len(gateway.get("/healthz").headers["x-request-id"]) == 32
