"""Two gateway replicas on one Redis (production / replicas): what one has seen, the other knows.

A nonce used at one replica is refused at the other, an Idempotency-Key replayed at the other
answers the first response (one effect), and a quota is counted once across both. Run by
`make test-postgres` (marker `redis`): a private redis-server, or LATTICE_TEST_REDIS_URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import EdgeGateway, running_gateway
from tests.gateway.probe_routes import Effects
from tests.gateway.test_idempotency_and_rates import signed_transfer

pytestmark = pytest.mark.redis


@asynccontextmanager
async def two_replicas(
    tmp_path: Path, nats_url: str, redis_url: str, **overrides: object
) -> AsyncIterator[tuple[EdgeGateway, EdgeGateway]]:
    """Each replica its own var dir: nothing but Redis is shared."""
    async with (
        running_gateway(tmp_path / "one", nats_url, redis_url=redis_url, **overrides) as one,
        running_gateway(tmp_path / "two", nats_url, redis_url=redis_url, **overrides) as two,
    ):
        assert one.settings.edge_store_kind() == two.settings.edge_store_kind() == "redis"
        two.jwks.issuers.append(one.issuer)
        yield one, two


async def test_a_nonce_and_an_idempotency_key_used_at_one_replica_hold_at_the_other(
    tmp_path: Path, nats_url: str, redis_url: str
) -> None:
    async with (
        two_replicas(tmp_path, nats_url, redis_url) as (one, two),
        httpx.AsyncClient(timeout=60) as http,
    ):
        key = f"replicas-{tmp_path.name}"
        before = len(Effects.applied)
        target, body, headers = signed_transfer(one.url, 250, key)
        first = await http.post(target, content=body, headers=headers)
        assert first.status_code == 201, first.text
        # the very same signed request (its nonce) at the other replica
        replayed = await http.post(target.replace(one.url, two.url), content=body, headers=headers)
        assert (replayed.status_code, replayed.json()["code"]) == (401, "nonce_reused")
        # a fresh signature, the same key and body: the first answer, not a second transfer
        target, body, headers = signed_transfer(two.url, 250, key)
        retried = await http.post(target, content=body, headers=headers)
        assert (retried.status_code, retried.content) == (201, first.content)
        assert retried.headers["idempotent-replayed"] == "true"
        assert [k for k, _ in Effects.applied[before:]] == [key]


async def test_a_quota_is_counted_once_across_replicas(tmp_path: Path, nats_url: str, redis_url: str) -> None:
    limits = {"app": 4, "partner": 100, "ops": 100, "public": 100}
    async with (
        two_replicas(tmp_path, nats_url, redis_url, rate_limits=limits) as (one, two),
        httpx.AsyncClient(timeout=60) as http,
    ):
        carol = {"Authorization": f"Bearer {one.issuer.token(aud='life', sub=f'carol-{tmp_path.name}')}"}
        replicas = (one, two, two, one, two)
        answers = [await http.get(gw.url + "/v1/apps/life/probe/me", headers=carol) for gw in replicas]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers[:4]] == ["3", "2", "1", "0"]
