"""App and operator token policies: ES256 tokens verified against a JWKS, with real keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from lattice.identity.v1 import events_pb2

from gateway.ended_sessions import mark_ended
from gateway.policies.denial import PolicyDenied
from gateway.policies.store_sqlite import SqliteEdgeStore
from gateway.policies.tokens import AppTokenPolicy, JwksCache, OperatorTokenPolicy
from tests.gateway.keys import Jwks, TokenIssuer


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture
def jwks(issuer: TokenIssuer) -> Jwks:
    return Jwks(issuer)


@pytest.fixture
def apps(jwks: Jwks) -> AppTokenPolicy:
    return AppTokenPolicy(JwksCache(jwks.fetch, min_refresh_interval_s=0))


@pytest.fixture
def ops(jwks: Jwks) -> OperatorTokenPolicy:
    return OperatorTokenPolicy(JwksCache(jwks.fetch, min_refresh_interval_s=0))


def bearer(token: str) -> str:
    return f"Bearer {token}"


def denial(call) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as err:
        call()
    return err.value


def test_a_life_token_authenticates_its_customer_on_life(apps: AppTokenPolicy, issuer: TokenIssuer) -> None:
    token = issuer.token(aud="life", sub="cus_1", scope="benefits:read inbox:read", acr="2")
    claims = apps.authenticate(authorization=bearer(token), app_id="life")
    assert (claims.customer_id, claims.app_id, claims.assurance_level) == ("cus_1", "life", 2)
    assert claims.scopes == {"benefits:read", "inbox:read"}


def test_an_mbank_token_on_a_life_route_is_401(apps: AppTokenPolicy, issuer: TokenIssuer) -> None:
    denied = denial(
        lambda: apps.authenticate(authorization=bearer(issuer.token(aud="mbank", sub="c")), app_id="life")
    )
    assert (denied.status, denied.code) == (401, "token_audience")


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda i: i.token(aud="life", sub="c", iat=time.time() - 700, lifetime_s=600), "token_expired"),
        (lambda i: i.token(aud="life", sub="c", iss="someone-else"), "token_invalid"),
        (lambda i: i.token(aud="life", sub="c", lifetime_s=3600), "token_invalid"),
        (lambda i: TokenIssuer(kid=i.kid).token(aud="life", sub="c"), "token_invalid"),
        (lambda i: TokenIssuer().token(aud="life", sub="c"), "token_invalid"),
        (lambda i: i.token(aud="life", sub="c")[:-4] + "AAAA", "token_invalid"),
        (lambda i: "not-a-jwt", "token_malformed"),
    ],
    ids=[
        "expired",
        "wrong-issuer",
        "too-long-lived",
        "same-kid-other-key",
        "unknown-kid",
        "bad-signature",
        "garbage",
    ],
)
def test_bad_tokens_are_401(apps: AppTokenPolicy, issuer: TokenIssuer, make, code: str) -> None:
    denied = denial(lambda: apps.authenticate(authorization=bearer(make(issuer)), app_id="life"))
    assert (denied.status, denied.code) == (401, code)


def test_alg_none_and_hs256_with_the_public_key_are_rejected(
    apps: AppTokenPolicy, issuer: TokenIssuer
) -> None:
    claims = {
        "iss": "lattice-identity",
        "aud": "life",
        "sub": "c",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": "j",
    }
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": issuer.kid})
    public_jwk = json.dumps(issuer.jwk()).encode()
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": issuer.kid, "typ": "JWT"}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    signing_input = header.rstrip(b"=") + b"." + body.rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(public_jwk, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    hs256 = (signing_input + b"." + mac).decode()
    for token in (unsigned, hs256):
        denied = denial(lambda t=token: apps.authenticate(authorization=bearer(t), app_id="life"))
        assert (denied.status, denied.code) == (401, "token_invalid")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer "])
def test_missing_or_non_bearer_authorization_is_401(apps: AppTokenPolicy, header: str | None) -> None:
    assert denial(lambda: apps.authenticate(authorization=header, app_id="life")).status == 401


def test_jwks_is_cached_and_refetched_for_an_unknown_kid(jwks: Jwks, issuer: TokenIssuer) -> None:
    cache = JwksCache(jwks.fetch, min_refresh_interval_s=0)
    policy = AppTokenPolicy(cache)
    for _ in range(3):
        policy.authenticate(authorization=bearer(issuer.token(aud="life", sub="c")), app_id="life")
    assert jwks.fetches == 1
    rotated = TokenIssuer()
    jwks.issuers.append(rotated)
    policy.authenticate(authorization=bearer(rotated.token(aud="life", sub="c")), app_id="life")
    assert jwks.fetches == 2


def test_a_key_identity_stops_publishing_is_refused_once_the_cache_is_stale(
    jwks: Jwks, issuer: TokenIssuer
) -> None:
    policy = AppTokenPolicy(JwksCache(jwks.fetch, max_age_s=0.2, min_refresh_interval_s=0))
    token = bearer(issuer.token(aud="life", sub="c"))
    policy.authenticate(authorization=token, app_id="life")
    issuer.published = False  # an emergency rotation with no overlap
    time.sleep(0.25)
    denied = denial(lambda: policy.authenticate(authorization=token, app_id="life"))
    assert (denied.status, denied.code) == (401, "token_invalid")


def test_unknown_kid_refetches_are_rate_limited(jwks: Jwks, issuer: TokenIssuer) -> None:
    policy = AppTokenPolicy(JwksCache(jwks.fetch, min_refresh_interval_s=60))
    policy.authenticate(authorization=bearer(issuer.token(aud="life", sub="c")), app_id="life")
    for _ in range(5):
        stranger = TokenIssuer()
        denial(
            lambda s=stranger: policy.authenticate(
                authorization=bearer(s.token(aud="life", sub="c")), app_id="life"
            )
        )
    assert jwks.fetches == 1


def test_keys_unavailable_is_503_not_500() -> None:
    def broken() -> str:
        raise ConnectionError("identity is down")

    policy = AppTokenPolicy(JwksCache(broken))
    denied = denial(
        lambda: policy.authenticate(authorization=bearer(TokenIssuer().token(aud="l", sub="c")), app_id="l")
    )
    assert denied.status == 503


def test_operator_token_carries_role_and_branch(ops: OperatorTokenPolicy, issuer: TokenIssuer) -> None:
    branch_op = ops.authenticate(
        authorization=bearer(issuer.token(aud="lattice-ops", sub="op1", role="operator", branch="sz01"))
    )
    assert (branch_op.operator_id, branch_op.role, branch_op.branch) == ("op1", "operator", "sz01")
    head = ops.authenticate(authorization=bearer(issuer.token(aud="lattice-ops", sub="op2", role="admin")))
    assert head.branch is None


def test_a_customer_token_on_an_operator_route_is_403(ops: OperatorTokenPolicy, issuer: TokenIssuer) -> None:
    denied = denial(lambda: ops.authenticate(authorization=bearer(issuer.token(aud="life", sub="cus_1"))))
    assert (denied.status, denied.code) == (403, "operator_token_required")


@pytest.mark.parametrize("claims", [{"role": "superuser"}, {}, {"role": "admin", "branch": "../x"}])
def test_operator_tokens_without_a_valid_role_or_branch_are_401(
    ops: OperatorTokenPolicy, issuer: TokenIssuer, claims: dict
) -> None:
    token = issuer.token(aud="lattice-ops", sub="op1", **claims)
    assert denial(lambda: ops.authenticate(authorization=bearer(token))).status == 401


def test_a_token_of_an_ended_session_is_refused_until_it_would_have_expired(
    jwks: Jwks, issuer: TokenIssuer, tmp_path: Path
) -> None:
    store = SqliteEdgeStore(tmp_path / "edge.db")
    apps = AppTokenPolicy(JwksCache(jwks.fetch, min_refresh_interval_s=0), ended_sessions=store)
    ended = issuer.token(aud="life", sub="cus_1", sid="fam_ended")
    other = issuer.token(aud="life", sub="cus_1", sid="fam_other")
    now = time.time()
    event = events_pb2.SessionsEnded(session_ids=["fam_ended"], reason="signed_out_everywhere")
    event.occurred_at.FromSeconds(int(now))
    assert mark_ended(store, event, now=now) == 1
    denied = denial(lambda: apps.authenticate(authorization=bearer(ended), app_id="life"))
    assert (denied.status, denied.code) == (401, "session_ended")
    assert apps.authenticate(authorization=bearer(other), app_id="life").customer_id == "cus_1"

    # an event replayed after every token of the session expired marks nothing
    stale = events_pb2.SessionsEnded(session_ids=["fam_other"])
    stale.occurred_at.FromSeconds(int(now) - 20 * 60)
    assert mark_ended(store, stale, now=now) == 0
    assert apps.authenticate(authorization=bearer(other), app_id="life").customer_id == "cus_1"
    store.close()
