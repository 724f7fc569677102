"""The personal-data guard on a real gateway: every place a number can hide is refused before the
route runs (a correctly signed partner transfer with a phone in its memo has no effect), the field is
named by JSON pointer and the number is never echoed, ordinary ids and amounts pass."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from services.runtime.personal_data import find_personal_numbers
from tests.gateway.conftest import PARTNER_SECRET, EdgeGateway
from tests.gateway.probe_routes import Effects
from tools.partner_client import PartnerSigner, encode_request

CODE = "personal_data_not_allowed"


def signed_transfer(
    gw: EdgeGateway, body: dict[str, Any], *, params: dict | None = None, headers: dict | None = None
) -> tuple[str, bytes, dict[str, str]]:
    signer = PartnerSigner(partner_id="ride", key_id="k1", secret=PARTNER_SECRET, clock=time.time)
    target, raw, base = encode_request("/v1/partner/probe/transfers", params=params, json_body=body)
    url = gw.url + target
    return url, raw, {**base, **(headers or {}), **signer.headers(method="POST", url=url, body=raw)}


def _refused(resp: httpx.Response, where: str, pointer: str) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert (problem["code"], problem["in"], problem["pointer"]) == (CODE, where, pointer), problem
    # random hex ids (request and trace ids) may hold "1111" by chance; they echo nothing of the client's
    machine = {"x-request-id", "x-trace-id"}
    echoed = {k: v for k, v in resp.headers.items() if k not in machine}
    problem_text = {k: v for k, v in problem.items() if k != "trace_id"}
    everything = json.dumps(problem_text, ensure_ascii=False) + json.dumps(echoed)
    assert not find_personal_numbers(everything), everything
    assert "0013" not in everything and "1111" not in everything


BODIES = [
    ({"amount": 5, "memo": "call 138 0013 8000"}, "/memo"),
    ({"amount": 5, "memo": "＋８６ １３８ ００１３ ８０００"}, "/memo"),
    ({"amount": 5, "memo": "card 4111-1111-1111-1111"}, "/memo"),
    ({"amount": 5, "memo": "id 11010519491231002x"}, "/memo"),
    ({"amount": 13800138000}, "/amount"),
    ({"amount": 5, "memo": "ok", "nested": [{"deep": {"x": "138\u200b0013\u200b8000"}}]}, "/nested/0/deep/x"),
    ({"amount": 5, "13800138000": "key"}, "/"),
    ({"amount": 5, "a/b~c": "13800138000"}, "/a~1b~0c"),
]


@pytest.mark.parametrize(("body", "pointer"), BODIES)
async def test_a_number_anywhere_in_a_signed_body_is_refused_and_nothing_runs(
    edge_gateway: EdgeGateway, body: dict[str, Any], pointer: str
) -> None:
    before = len(Effects.applied)
    url, raw, headers = signed_transfer(edge_gateway, body)
    async with httpx.AsyncClient() as http:
        _refused(await http.post(url, content=raw, headers=headers), "body", pointer)
    assert len(Effects.applied) == before


async def test_query_path_header_cookie_form_and_text_bodies_are_scanned(edge_gateway: EdgeGateway) -> None:
    async with httpx.AsyncClient(base_url=edge_gateway.url) as http:
        url, raw, headers = signed_transfer(edge_gateway, {"amount": 5}, params={"page_size": "13800138000"})
        _refused(await http.post(url, content=raw, headers=headers), "query", "/page_size")
        url, raw, headers = signed_transfer(edge_gateway, {"amount": 5}, params={"138-0013-8000": "1"})
        _refused(await http.post(url, content=raw, headers=headers), "query", "/[personal-number]")
        key = {"Idempotency-Key": "order-13800138000"}
        url, raw, headers = signed_transfer(edge_gateway, {"amount": 5}, headers=key)
        _refused(await http.post(url, content=raw, headers=headers), "header", "/idempotency-key")
        _refused(await http.get("/v1/ops/probe/objects/138%2000138000"), "path", "/object_id")
        _refused(await http.get("/v1/apps/mbank/probe/customers/x4111111111111111"), "path", "/customer_id")
        _refused(
            await http.get("/r/abcdefghijk", headers={"Cookie": "lattice_did=13800138000"}),
            "cookie",
            "/lattice_did",
        )
        _refused(await http.get("/nowhere/13800138000"), "path", "")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        _refused(
            await http.post("/v1/ops/token", content=b"client_id=13800138000", headers=form),
            "body",
            "/client_id",
        )
        # a body that declares no media type is refused before anything reads it, and not echoed
        untyped = await http.post("/v1/ops/token", content=b"{not json 13800138000")
        assert untyped.status_code == 415 and "13800138000" not in untyped.text, untyped.text
        json_type = {"Content-Type": "application/json"}
        broken = b"{not json 13800138000"
        _refused(await http.post("/v1/ops/token", content=broken, headers=json_type), "body", "")
        exponent = b'{"client_id": "ops", "client_secret": 1.3800138e10}'
        secret = await http.post("/v1/ops/token", content=exponent, headers=json_type)
        _refused(secret, "body", "/client_secret")
        escaped = b'{"client_id": "138\\t0013\\u00008000"}'
        _refused(await http.post("/v1/ops/token", content=escaped, headers=json_type), "body", "/client_id")
        deep = b"[" * 5000 + b'"13800138000"' + b"]" * 5000
        _refused(await http.post("/v1/ops/token", content=deep, headers=json_type), "body", "")


async def test_a_request_id_with_a_number_is_replaced_and_refused(edge_gateway: EdgeGateway) -> None:
    async with httpx.AsyncClient(base_url=edge_gateway.url) as http:
        resp = await http.get("/healthz", headers={"X-Request-Id": "req-13800138000"})
        _refused(resp, "header", "/x-request-id")
        assert "13800138000" not in resp.headers["x-request-id"]
        ok = await http.get("/healthz", headers={"X-Request-Id": "req-0123456789abcdef"})
        assert ok.status_code == 200 and ok.headers["x-request-id"] == "req-0123456789abcdef"


async def test_ordinary_ids_amounts_and_times_pass(edge_gateway: EdgeGateway) -> None:
    before = len(Effects.applied)
    memo = "order 2026112800001 at 2026-11-28T20:50:02Z id 550e8400-e29b-41d4-a716-446655440000"
    key = {"Idempotency-Key": "550e8400-e29b-41d4-a716-446655440000"}
    url, raw, headers = signed_transfer(edge_gateway, {"amount": 999_999, "memo": memo}, headers=key)
    async with httpx.AsyncClient() as http:
        resp = await http.post(url, content=raw, headers=headers)
    assert resp.status_code == 201, resp.text
    assert len(Effects.applied) == before + 1


def test_problem_details_never_quote_a_personal_number() -> None:
    """A service's message about the input is passed on as the detail: scrubbed on the way out."""
    from starlette.requests import Request

    from gateway.problems import problem_response

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/x",
        "headers": [],
        "query_string": b"",
        "state": {},
    }
    answer = problem_response(
        Request(scope), 422, "invalid_time_zone", "unknown time zone ＋８６ 138 0013 8000"
    )
    body = json.loads(answer.body)
    assert body["detail"].startswith("unknown time zone ") and body["detail"].endswith("[personal-number]")
    assert not find_personal_numbers(body["detail"]) and "0013" not in body["detail"], body
