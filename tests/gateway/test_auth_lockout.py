"""Credential guessing is limited per claimed client, not per address: bad operator secrets, app
assertions and partner signatures lock that operator / app / partner out (429 with Retry-After) even
when every attempt comes from another address, and nobody else is affected.

A system of its own that trusts 127.0.0.1 as its proxy, so X-Forwarded-For really changes the
address (and its rate-limit bucket) of every attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from gateway.policies.lockout import DEFAULT_RULES
from services.identity import demo_data
from services.identity.app_client import app_assertion
from tests.support.actors import JWT_BEARER, partner_client
from tests.support.system import running_system
from tools.partner_client import PartnerClient, PartnerSigner

UNKNOWN_PAIRWISE = "/v1/partner/customers/pw_aaaaaaaaaaaaaaaaaaaa"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    env = {"ENVIRONMENT": "test", "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with (
        running_system(tmp_path_factory.mktemp("lockout") / "var", extra_env=env) as stack,
        httpx.Client(base_url=stack.config.gateway_url, timeout=10) as client,
    ):
        yield client


def _from(i: int) -> dict[str, str]:
    """A different client address for every attempt."""
    return {"X-Forwarded-For": f"198.51.{i // 250}.{i % 250 + 1}"}


def _operator_token(gateway: httpx.Client, operator_id: str, secret: str, i: int) -> httpx.Response:
    body = {"grant_type": "client_credentials", "client_id": operator_id, "client_secret": secret}
    return gateway.post("/v1/ops/token", json=body, headers=_from(i))


def _locked(resp: httpx.Response) -> bool:
    return (
        resp.status_code == 429
        and resp.json()["code"] == "authentication_locked"
        and "retry-after" in resp.headers
    )


def test_bad_secrets_for_one_operator_lock_it_out_from_any_address(gateway: httpx.Client) -> None:
    limit = DEFAULT_RULES["operator"].max_failures
    for i in range(limit):
        resp = _operator_token(gateway, "hq-viewer", f"wrong-secret-{i}", i)
        assert resp.status_code == 401, resp.text
    good = demo_data.DEMO_OPERATOR_SECRETS["hq-viewer"]
    assert _locked(_operator_token(gateway, "hq-viewer", good, limit + 1))
    other = demo_data.DEMO_OPERATOR_SECRETS["hq-operator"]
    assert _operator_token(gateway, "hq-operator", other, limit + 2).status_code == 200


def _sign_in(gateway: httpx.Client, app_id: str, secret: str, i: int) -> httpx.Response:
    assertion = app_assertion(app_id=app_id, client_secret=secret, app_user_id=f"u-{uuid.uuid4().hex[:8]}")
    body = {"grant_type": JWT_BEARER, "assertion": assertion}
    return gateway.post(f"/v1/apps/{app_id}/token", json=body, headers=_from(i))


def test_bad_assertions_for_one_app_lock_its_sign_in_out_from_any_address(gateway: httpx.Client) -> None:
    limit = DEFAULT_RULES["app"].max_failures
    for i in range(limit):
        assert _sign_in(gateway, "life", f"guessed-secret-{i:02d}-0123456789abcdef", i).status_code == 401
    assert _locked(_sign_in(gateway, "life", demo_data.DEMO_APP_SECRETS["life"], limit + 1))
    assert _sign_in(gateway, "mbank", demo_data.DEMO_APP_SECRETS["mbank"], limit + 2).status_code == 200


def test_bad_signatures_for_one_partner_lock_it_out_from_any_address(gateway: httpx.Client) -> None:
    limit = DEFAULT_RULES["partner"].max_failures
    _, _, key_id, _ = demo_data.DEMO_PARTNERS["food"]
    for i in range(limit):
        guessed = PartnerSigner(partner_id="food", key_id=key_id, secret=b"g" * 32)
        with PartnerClient(base_url=str(gateway.base_url), signer=guessed) as forger:
            resp = forger.request("GET", UNKNOWN_PAIRWISE, headers=_from(i))
        assert resp.status_code == 401 and resp.json()["code"] == "signature_invalid", resp.text
    with partner_client(gateway, "food") as food:
        assert _locked(food.request("GET", UNKNOWN_PAIRWISE, headers=_from(limit + 1)))
    with partner_client(gateway, "ride") as ride:
        assert ride.request("GET", UNKNOWN_PAIRWISE, headers=_from(limit + 2)).status_code == 404
