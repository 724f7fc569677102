"""The edge through a real gateway over HTTP: signed partners, app and operator tokens, problems."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.gateway.conftest import PARTNER_SECRET, EdgeGateway, running_gateway
from tools.partner_client import PartnerSigner, encode_request

PROBLEM = "application/problem+json"


def partner_request(
    gw: EdgeGateway, *, amount: int = 100, skew_s: float = 0, key_id: str = "k1", params: dict | None = None
) -> tuple[str, bytes, dict[str, str]]:
    signer = PartnerSigner(
        partner_id="ride", key_id=key_id, secret=PARTNER_SECRET, clock=lambda: time.time() + skew_s
    )
    target, body, headers = encode_request(
        "/v1/partner/probe/transfers", params=params, json_body={"amount": amount}
    )
    url = gw.url + target
    return url, body, {**headers, **signer.headers(method="POST", url=url, body=body)}


async def test_signed_partner_request_accepted_then_replay_rejected(edge_gateway: EdgeGateway) -> None:
    url, body, headers = partner_request(edge_gateway, params={"page_size": "5"})
    async with httpx.AsyncClient() as http:
        ok = await http.post(url, content=body, headers=headers)
        assert ok.status_code == 201, ok.text
        assert ok.json()["partner_id"] == "ride"
        replay = await http.post(url, content=body, headers=headers)
        assert replay.status_code == 401
        assert replay.headers["content-type"] == PROBLEM
        assert replay.json()["code"] == "nonce_reused"


async def test_tampered_or_stale_partner_requests_are_401(tmp_path: Path, nats_url: str) -> None:
    # nonces in the SQLite file outlive the process, so a request signed 299 s before this gateway
    # started is still inside the window (in memory it is refused: test_edge_state_in_memory.py)
    async with (
        running_gateway(tmp_path, nats_url, edge_store="sqlite") as edge_gateway,
        httpx.AsyncClient() as http,
    ):
        url, body, headers = partner_request(edge_gateway)
        assert (
            await http.post(url, content=body.replace(b"100", b"900"), headers=headers)
        ).status_code == 401
        url, body, headers = partner_request(edge_gateway, params={"page_size": "5"})
        assert (await http.post(url.replace("=5", "=6"), content=body, headers=headers)).status_code == 401
        for skew in (-310, 310):  # 10 s beyond the 300 s window: a margin for a loaded machine
            url, body, headers = partner_request(edge_gateway, skew_s=skew)
            resp = await http.post(url, content=body, headers=headers)
            assert (resp.status_code, resp.json()["code"]) == (401, "signature_expired")
        url, body, headers = partner_request(edge_gateway, skew_s=-290)
        assert (await http.post(url, content=body, headers=headers)).status_code == 201
        url, body, headers = partner_request(edge_gateway, key_id="k2")
        assert (await http.post(url, content=body, headers=headers)).json()["code"] == "unknown_key"
        unsigned = await http.post(url, json={"amount": 1})
        assert (unsigned.status_code, unsigned.json()["code"]) == (401, "signature_missing")


async def test_a_signature_for_get_does_not_authorise_a_post(edge_gateway: EdgeGateway) -> None:
    signer = PartnerSigner(partner_id="ride", key_id="k1", secret=PARTNER_SECRET)
    url = edge_gateway.url + "/v1/partner/probe/transfers"
    body = b'{"amount":5}'
    headers = signer.headers(method="GET", url=url, body=body)
    async with httpx.AsyncClient() as http:
        resp = await http.post(url, content=body, headers={**headers, "content-type": "application/json"})
    assert (resp.status_code, resp.json()["code"]) == (401, "signature_invalid")


async def test_customer_tokens_are_bound_to_their_app_and_their_customer(edge_gateway: EdgeGateway) -> None:
    life = edge_gateway.issuer.token(aud="life", sub="cus_1", acr="2", scope="benefits:read")
    mbank = edge_gateway.issuer.token(aud="mbank", sub="cus_1")
    async with httpx.AsyncClient(base_url=edge_gateway.url) as http:
        me = await http.get("/v1/apps/life/probe/me", headers={"Authorization": f"Bearer {life}"})
        assert me.json() == {"customer_id": "cus_1", "app_id": "life", "acr": 2}
        wrong_app = await http.get("/v1/apps/life/probe/me", headers={"Authorization": f"Bearer {mbank}"})
        assert (wrong_app.status_code, wrong_app.json()["code"]) == (401, "token_audience")
        assert "Bearer" in wrong_app.headers["www-authenticate"]
        other = await http.get(
            "/v1/apps/life/probe/customers/cus_2", headers={"Authorization": f"Bearer {life}"}
        )
        assert other.status_code == 404
        own = await http.get(
            "/v1/apps/life/probe/customers/cus_1", headers={"Authorization": f"Bearer {life}"}
        )
        assert own.status_code == 200
        ops = await http.get("/v1/ops/probe/objects/voucher-sz", headers={"Authorization": f"Bearer {life}"})
        assert (ops.status_code, ops.json()["code"]) == (403, "operator_token_required")
        assert (await http.get("/v1/apps/life/probe/me")).status_code == 401


async def test_branch_operators_stay_in_their_branch(edge_gateway: EdgeGateway) -> None:
    issue = edge_gateway.issuer.token
    branch = issue(aud="lattice-ops", sub="op-sz", role="operator", branch="sz01")
    head = issue(aud="lattice-ops", sub="op-hq", role="viewer")
    async with httpx.AsyncClient(base_url=edge_gateway.url) as http:
        as_branch = {"Authorization": f"Bearer {branch}"}
        assert (await http.get("/v1/ops/probe/objects/voucher-sz", headers=as_branch)).status_code == 200
        assert (await http.get("/v1/ops/probe/objects/voucher-gz", headers=as_branch)).status_code == 403
        as_head = {"Authorization": f"Bearer {head}"}
        assert (await http.get("/v1/ops/probe/objects/voucher-gz", headers=as_head)).status_code == 200
        viewer_create = await http.post("/v1/ops/probe/objects", headers=as_head)
        assert (viewer_create.status_code, viewer_create.json()["code"]) == (403, "role_required")


async def test_caller_sent_edge_identity_headers_are_ignored(edge_gateway: EdgeGateway) -> None:
    forged = {
        "X-Lattice-Auth-Secret": "x" * 32,
        "X-Lattice-Auth-Kind": "operator",
        "X-Lattice-Auth-Operator": "op-hq",
        "X-Lattice-Auth-Role": "admin",
    }
    async with httpx.AsyncClient(base_url=edge_gateway.url) as http:
        resp = await http.get("/v1/ops/probe/objects/voucher-sz", headers=forged)
    assert (resp.status_code, resp.json()["code"]) == (401, "token_missing")


async def test_limits_and_errors_are_problems(edge_gateway: EdgeGateway) -> None:
    token = edge_gateway.issuer.token(aud="lattice-ops", sub="op-hq", role="admin")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=edge_gateway.url) as http:
        big = await http.post("/v1/ops/probe/objects", headers=auth, content=b"x" * 1_048_577)
        assert (big.status_code, big.headers["content-type"]) == (413, PROBLEM)
        url, body, headers = partner_request(edge_gateway, params={"page_size": "500"})
        invalid = await http.post(url, content=body, headers=headers)
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["loc"] == ["query", "page_size"]
        missing = await http.get("/v1/nowhere")
        assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
        preflight = await http.options(
            "/v1/ops/probe/objects",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert "traceback" not in (await http.get("/v1/apps/life/probe/me", headers=auth)).text.lower()
