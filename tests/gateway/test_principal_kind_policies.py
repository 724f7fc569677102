"""The token policies require one kind per route, the app registry, withdrawn keys and lockouts:
the shared policy code (gateway and Kong's plugins) with real keys and real edge stores."""

from __future__ import annotations

import itertools

import pytest

from gateway.policies.app_registry import AppRegistry
from gateway.policies.denial import PolicyDenied
from gateway.policies.lockout import AuthLockout, LockoutRule
from gateway.policies.store import EdgeStore
from gateway.policies.tokens import AppTokenPolicy, JwksCache, OperatorTokenPolicy, withdrawn_key_key
from tests.gateway.keys import TokenIssuer

KINDS = ("customer", "operator", "partner", "service", "")


def denial(call) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as err:
        call()
    return err.value


@pytest.mark.parametrize(("kind", "aud"), itertools.product(KINDS, ("life", "lattice-ops", "partner:ride")))
def test_only_a_customer_token_for_the_app_passes_the_app_policy(
    jwks: JwksCache, issuer: TokenIssuer, kind: str, aud: str
) -> None:
    policy = AppTokenPolicy(jwks, apps=AppRegistry(lambda: ["life", "mbank"]))
    token = f"Bearer {issuer.token(aud=aud, sub='cus_1', kind=kind)}"
    for app_id in ("life", aud):
        if (kind, aud, app_id) == ("customer", "life", "life"):
            assert policy.authenticate(authorization=token, app_id=app_id).customer_id == "cus_1"
            continue
        refused = denial(lambda: policy.authenticate(authorization=token, app_id=app_id))  # noqa: B023
        expected = (
            (404, "app_not_found") if app_id != "life" else (401, "token_kind" if kind != "customer" else "")
        )
        assert refused.status == expected[0], (kind, aud, app_id, refused.code)
        assert not expected[1] or refused.code == expected[1]


@pytest.mark.parametrize(("kind", "aud"), itertools.product(KINDS, ("life", "lattice-ops")))
def test_only_an_operator_token_for_staff_passes_the_operator_policy(
    jwks: JwksCache, issuer: TokenIssuer, kind: str, aud: str
) -> None:
    policy = OperatorTokenPolicy(jwks)
    token = f"Bearer {issuer.token(aud=aud, sub='op-1', role='admin', kind=kind)}"
    if (kind, aud) == ("operator", "lattice-ops"):
        assert policy.authenticate(authorization=token).operator_id == "op-1"
        return
    refused = denial(lambda: policy.authenticate(authorization=token))
    assert refused.status in (401, 403)


def test_tokens_without_the_access_token_type_are_refused(jwks: JwksCache, issuer: TokenIssuer) -> None:
    for typ in ("JWT", "", "id+jwt"):
        token = f"Bearer {issuer.token(aud='lattice-ops', sub='op-1', role='admin', typ=typ)}"
        assert denial(lambda: OperatorTokenPolicy(jwks).authenticate(authorization=token)).status == 401  # noqa: B023


def test_the_registry_is_refetched_for_an_unknown_app_at_most_once_a_second() -> None:
    fetches: list[int] = []
    registered = ["life"]

    def fetch() -> list[str]:
        fetches.append(1)
        return list(registered)

    registry = AppRegistry(fetch, max_age_s=60, min_refresh_interval_s=1.0)
    registry.require("life")
    registered.append("wealth")
    for _ in range(5):  # a burst for an app registered a moment ago: one refetch, not five
        assert denial(lambda: registry.require("nosuch")).code == "app_not_found"
    assert len(fetches) == 1
    registry._fetched_at -= 1.0  # the interval has passed
    registry.require("wealth")
    assert len(fetches) == 2
    for reserved in ("lattice-ops", "lattice-identity", "partner:ride", "service:benefits"):
        registered.append(reserved)
        assert denial(lambda: registry.require(reserved)).status == 404  # noqa: B023


def test_a_withdrawn_signing_key_is_refused_at_once(
    jwks: JwksCache, issuer: TokenIssuer, edge_store: EdgeStore
) -> None:
    policy = AppTokenPolicy(jwks, ended_sessions=edge_store, apps=AppRegistry(lambda: ["life"]))
    token = f"Bearer {issuer.token(aud='life', sub='cus_1')}"
    assert policy.authenticate(authorization=token, app_id="life").customer_id == "cus_1"
    edge_store.claim_once(withdrawn_key_key(issuer.kid), ttl_s=60)
    assert denial(lambda: policy.authenticate(authorization=token, app_id="life")).code == "token_invalid"


def test_failures_lock_out_one_client_only(edge_store: EdgeStore) -> None:
    lockout = AuthLockout(store=edge_store, rules={"operator": LockoutRule(max_failures=3, lockout_s=120)})
    for _ in range(3):
        lockout.check(kind="operator", client_id="op-1")
        lockout.failed(kind="operator", client_id="op-1")
    locked = denial(lambda: lockout.check(kind="operator", client_id="op-1"))
    assert (locked.status, locked.code, locked.headers["Retry-After"]) == (
        429,
        "authentication_locked",
        "120",
    )
    lockout.check(kind="operator", client_id="op-2")
