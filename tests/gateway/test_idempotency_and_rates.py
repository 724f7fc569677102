"""Idempotency-Key and rate limits through a real gateway, with the edge store on SQLite and Redis."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import PARTNER_SECRET, running_gateway
from tests.gateway.probe_routes import Effects
from tools.partner_client import PartnerSigner, encode_request


def signed_transfer(url: str, amount: int, key: str) -> tuple[str, bytes, dict[str, str]]:
    signer = PartnerSigner(partner_id="ride", key_id="k1", secret=PARTNER_SECRET)
    target, body, headers = encode_request("/v1/partner/probe/transfers", json_body={"amount": amount})
    signed = signer.headers(method="POST", url=url + target, body=body)
    return url + target, body, {**headers, **signed, "Idempotency-Key": key}


async def post(http: httpx.AsyncClient, url: str, amount: int, key: str) -> httpx.Response:
    target, body, headers = signed_transfer(url, amount, key)
    return await http.post(target, content=body, headers=headers)


@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
async def test_ten_concurrent_identical_requests_have_one_effect(
    tmp_path: Path, nats_url: str, store: str, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else ""
    kind = "sqlite" if store == "sqlite" else "memory"
    key = f"transfer-{store}-{time.time_ns()}"
    async with (
        running_gateway(tmp_path, nats_url, redis_url=redis_url, edge_store=kind) as gw,
        httpx.AsyncClient() as http,
    ):
        assert gw.settings.edge_store_kind() == store
        before = len(Effects.applied)
        responses = await asyncio.gather(*(post(http, gw.url, 100, key) for _ in range(10)))
        assert [k for k, _ in Effects.applied[before:]] == [key]
        created = [r for r in responses if r.status_code == 201]
        in_flight = [r for r in responses if r.status_code == 409]
        assert len(created) + len(in_flight) == 10 and created
        assert {r.json()["code"] for r in in_flight} <= {"idempotency_in_flight"}
        assert len({r.content for r in created}) == 1
        replays = await asyncio.gather(*(post(http, gw.url, 100, key) for _ in range(3)))
        assert {(r.status_code, r.content) for r in replays} == {(201, created[0].content)}
        assert all(r.headers["idempotent-replayed"] == "true" for r in replays)
        other_body = await post(http, gw.url, 999, key)
        assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")
        assert [k for k, _ in Effects.applied[before:]] == [key]


async def test_keys_are_per_principal_and_kept_24_hours(tmp_path: Path, nats_url: str) -> None:
    async with running_gateway(tmp_path, nats_url, edge_store="sqlite") as gw, httpx.AsyncClient() as http:
        token = gw.issuer.token(aud="lattice-ops", sub="op-hq", role="operator")
        other = gw.issuer.token(aud="lattice-ops", sub="op-2", role="operator")
        first = await http.post(
            gw.url + "/v1/ops/probe/objects",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"},
        )
        second = await http.post(
            gw.url + "/v1/ops/probe/objects",
            headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "k-1"},
        )
        assert first.status_code == second.status_code == 201
        assert first.json()["created_by"] == "op-hq" and second.json()["created_by"] == "op-2"
        bad = await http.post(
            gw.url + "/v1/ops/probe/objects",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "x" * 129},
        )
        assert bad.status_code == 422
    with sqlite3.connect(tmp_path / "edge.db") as db:
        kept = [row[0] - time.time() for row in db.execute("SELECT expires_at FROM edge_operation")]
    assert len(kept) == 2 and all(abs(k - 86400) < 60 for k in kept)


async def test_a_failed_request_frees_its_key(tmp_path: Path, nats_url: str) -> None:
    async with running_gateway(tmp_path, nats_url) as gw, httpx.AsyncClient() as http:
        target, body, headers = signed_transfer(gw.url, 0, "retry-me")
        invalid = await http.post(target, content=body, headers=headers)
        assert invalid.status_code == 422
        again = await post(http, gw.url, 0, "retry-me")
        assert (again.status_code, again.content) == (422, invalid.content)


@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_rate_limits_per_consumer_with_headers_shared_by_replicas(
    tmp_path: Path, nats_url: str, store: str, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else ""
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    limits = {"app": 3, "partner": 100, "ops": 100, "public": 100}
    shared = {"redis_url": redis_url, "rate_limits": limits, "edge_store": "sqlite"}
    async with (
        running_gateway(tmp_path, nats_url, **shared) as one,
        running_gateway(tmp_path, nats_url, **shared) as two,
        httpx.AsyncClient() as http,
    ):
        two.jwks.issuers.append(one.issuer)
        alice = {"Authorization": f"Bearer {one.issuer.token(aud='life', sub='alice')}"}
        bob = {"Authorization": f"Bearer {one.issuer.token(aud='life', sub='bob')}"}
        seen = []
        for gw in (one, two, one):
            resp = await http.get(gw.url + "/v1/apps/life/probe/me", headers=alice)
            assert resp.status_code == 200
            seen.append(resp.headers["ratelimit-remaining"])
        assert seen == ["2", "1", "0"]
        limited = await http.get(two.url + "/v1/apps/life/probe/me", headers=alice)
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["ratelimit-limit"] == "3" and limited.headers["ratelimit-policy"] == "3;w=60"
        assert (await http.get(one.url + "/v1/apps/life/probe/me", headers=bob)).status_code == 200


async def test_behind_kong_only_headers_with_the_shared_secret_count(tmp_path: Path, nats_url: str) -> None:
    secret = "kong-edge-secret-0123456789"
    async with (
        running_gateway(tmp_path, nats_url, trust_kong_headers=True, kong_shared_secret=secret) as gw,
        httpx.AsyncClient(base_url=gw.url) as http,
    ):
        kong_says = {
            "X-Lattice-Auth-Kind": "operator",
            "X-Lattice-Auth-Operator": "op-sz",
            "X-Lattice-Auth-Role": "operator",
            "X-Lattice-Auth-Branch": "sz01",
        }
        ok = await http.get(
            "/v1/ops/probe/objects/voucher-sz", headers={**kong_says, "X-Lattice-Auth-Secret": secret}
        )
        assert ok.status_code == 200
        other = await http.get(
            "/v1/ops/probe/objects/voucher-gz", headers={**kong_says, "X-Lattice-Auth-Secret": secret}
        )
        assert other.status_code == 403
        for forged in ({}, {"X-Lattice-Auth-Secret": "guess-guess-guess-guess"}):
            resp = await http.get("/v1/ops/probe/objects/voucher-sz", headers={**kong_says, **forged})
            assert (resp.status_code, resp.json()["code"]) == (401, "edge_untrusted")
        token = gw.issuer.token(aud="lattice-ops", sub="op-hq", role="admin")
        direct = await http.get(
            "/v1/ops/probe/objects/voucher-sz", headers={"Authorization": f"Bearer {token}"}
        )
        assert direct.status_code == 401
        customer = {
            "X-Lattice-Auth-Kind": "customer",
            "X-Lattice-Auth-Customer": "cus_1",
            "X-Lattice-Auth-App": "mbank",
        }
        wrong_app = await http.get(
            "/v1/apps/life/probe/me", headers={**customer, "X-Lattice-Auth-Secret": secret}
        )
        assert wrong_app.status_code == 401
        right_app = await http.get(
            "/v1/apps/mbank/probe/me", headers={**customer, "X-Lattice-Auth-Secret": secret}
        )
        assert right_app.json()["customer_id"] == "cus_1"
