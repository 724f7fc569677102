"""Emergency revocation means now: a partner key or token signing key rotated with no overlap is
refused by every gateway replica within a second (identity's event -> the shared edge store), not
when the replicas' key caches (60 s) expire.

A system of its own with two gateway replicas: the rotations end the demo partner's key and every
token the shared system's tests hold.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.actors import operator_headers, partner_client, sign_in
from tests.support.system import running_system

REVOKED_WITHIN_S = 1.0
UNKNOWN_PAIRWISE = "/v1/partner/customers/pw_aaaaaaaaaaaaaaaaaaaa"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[httpx.Client]]:
    """One system for both tests: the partner key test ends only `ride`'s key."""
    var = tmp_path_factory.mktemp("revocation") / "var"
    with running_system(var, replicas=2, extra_env={"ENVIRONMENT": "test"}) as stack:
        clients = [httpx.Client(base_url=url, timeout=10) for url in stack.config.gateway_urls]
        try:
            yield clients
        finally:
            for client in clients:
                client.close()


def _seconds_until(check: Callable[[], bool], *, since: float, limit_s: float) -> float:
    """Seconds from `since` until `check` holds (polled); fails past twice the limit."""
    while not check():
        assert time.monotonic() - since < 2 * limit_s, "still accepted"
        time.sleep(0.05)
    return time.monotonic() - since


def test_a_partner_key_rotated_with_no_overlap_is_refused_by_every_replica_within_a_second(
    replicas: list[httpx.Client],
) -> None:
    partners = [partner_client(gateway, "ride") for gateway in replicas]
    for partner in partners:  # both replicas now hold the key in their caches
        resp = partner.request("GET", UNKNOWN_PAIRWISE)
        assert resp.status_code == 404, resp.text

    admin = operator_headers(replicas[0], "hq-admin")
    rotated = replicas[0].post(
        "/v1/ops/partners/ride/signing-keys", json={"overlap_seconds": 0}, headers=admin
    )
    since = time.monotonic()
    assert rotated.status_code == 201, rotated.text

    def refused(partner: object) -> Callable[[], bool]:
        def check() -> bool:
            resp = partner.request("GET", UNKNOWN_PAIRWISE)
            return resp.status_code == 401 and resp.json()["code"] == "unknown_key"

        return check

    waited = [_seconds_until(refused(p), since=since, limit_s=REVOKED_WITHIN_S) for p in partners]
    assert max(waited) <= REVOKED_WITHIN_S, waited
    for partner in partners:
        partner.close()


def test_a_signing_key_withdrawn_with_no_overlap_is_refused_by_every_replica_within_a_second(
    replicas: list[httpx.Client],
) -> None:
    session = sign_in(replicas[0], "mbank", f"m-{uuid.uuid4().hex[:10]}")
    for gateway in replicas:
        assert gateway.get("/v1/apps/mbank/me", headers=session.headers).status_code == 200

    admin = operator_headers(replicas[1], "hq-admin")
    rotated = replicas[1].post(
        "/v1/ops/identity/signing-keys/rotate", json={"overlap_seconds": 0}, headers=admin
    )
    since = time.monotonic()
    assert rotated.status_code == 200, rotated.text

    def refused(gateway: httpx.Client) -> Callable[[], bool]:
        return lambda: gateway.get("/v1/apps/mbank/me", headers=session.headers).status_code == 401

    waited = [_seconds_until(refused(g), since=since, limit_s=REVOKED_WITHIN_S) for g in replicas]
    assert max(waited) <= REVOKED_WITHIN_S, waited
