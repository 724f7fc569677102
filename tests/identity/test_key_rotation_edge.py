"""An emergency signing-key rotation through the running gateway: tokens signed with the withdrawn
key are refused once the edge's JWKS cache goes stale; tokens of the new key pass at once.

A system of its own: rotating with no overlap ends every token the shared system's tests hold.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.actors import operator_headers, sign_in
from tests.support.system import running_system
from tools.journey import wait_until

JWKS_MAX_AGE_S = 2  # production default 60 s; short here so the test does not wait a minute


@pytest.fixture
def rotating_gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    env = {"ENVIRONMENT": "test", "JWKS_MAX_AGE_S": str(JWKS_MAX_AGE_S)}
    with (
        running_system(tmp_path / "var", extra_env=env) as stack,
        httpx.Client(base_url=stack.config.gateway_url, timeout=10) as client,
    ):
        yield client


def test_a_withdrawn_signing_key_is_refused_at_the_edge_and_the_new_one_accepted(
    rotating_gateway: httpx.Client,
) -> None:
    gateway = rotating_gateway
    before = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    assert gateway.get("/v1/apps/mbank/me", headers=before.headers).status_code == 200
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]

    rotated = gateway.post(
        "/v1/ops/identity/signing-keys/rotate",
        json={"overlap_seconds": 0},
        headers=operator_headers(gateway, "hq-admin"),
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_kid"] == old_kid
    published = {k["kid"] for k in gateway.get("/v1/.well-known/jwks.json").json()["keys"]}
    assert old_kid not in published

    after = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
    assert jwt.get_unverified_header(after.access_token)["kid"] == rotated.json()["kid"]
    # an unknown key id is refetched (at most once a second): the new key's tokens pass at once
    wait_until(
        "the new key's token accepted",
        lambda: gateway.get("/v1/apps/mbank/me", headers=after.headers).status_code == 200,
        timeout=3,
    )

    def old_token_refused() -> bool:
        resp = gateway.get("/v1/apps/mbank/me", headers=before.headers)
        return resp.status_code == 401 and resp.json()["code"] == "token_invalid"

    wait_until("the withdrawn key's token refused", old_token_refused, timeout=JWKS_MAX_AGE_S + 10)
