"""Verified tokens kept until expiry: revocation still holds on a kept token (ended session, withdrawn
key, key gone from the key set), failures are not kept, and the cache stays bounded."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.policies.app_registry import AppRegistry
from gateway.policies.denial import PolicyDenied
from gateway.policies.store import EdgeStore
from gateway.policies.token_cache import VerifiedToken, VerifiedTokens
from gateway.policies.tokens import (
    AppTokenPolicy,
    JwksCache,
    OperatorTokenPolicy,
    ended_session_key,
    withdrawn_key_key,
)
from tests.gateway.keys import Jwks, TokenIssuer


def refusal(policy: AppTokenPolicy, token: str) -> str:
    with pytest.raises(PolicyDenied) as err:
        policy.authenticate(authorization=token, app_id="life")
    return err.value.code


def app_policy(jwks: JwksCache, store: EdgeStore, cache: VerifiedTokens) -> AppTokenPolicy:
    return AppTokenPolicy(jwks, ended_sessions=store, apps=AppRegistry(lambda: ["life"]), cache=cache)


@pytest.mark.parametrize(
    ("mark", "code"),
    [(lambda _kid: ended_session_key("s-1"), "session_ended"), (withdrawn_key_key, "token_invalid")],
    ids=["session ended", "key withdrawn"],
)
def test_a_kept_token_is_refused_once_its_session_ends_or_its_key_is_withdrawn(
    jwks: JwksCache, issuer: TokenIssuer, edge_store: EdgeStore, mark: Callable[[str], str], code: str
) -> None:
    cache = VerifiedTokens()
    policy = app_policy(jwks, edge_store, cache)
    token = f"Bearer {issuer.token(aud='life', sub='cus_1', sid='s-1')}"
    for _ in range(3):
        assert policy.authenticate(authorization=token, app_id="life").customer_id == "cus_1"
    assert len(cache) == 1
    edge_store.claim_once(mark(issuer.kid), ttl_s=60)
    assert refusal(policy, token) == code


def test_a_kept_token_is_refused_once_identity_stops_publishing_its_key(issuer: TokenIssuer) -> None:
    document = Jwks(issuer)
    jwks = JwksCache(document.fetch, max_age_s=0, min_refresh_interval_s=0)
    cache = VerifiedTokens()
    policy = OperatorTokenPolicy(jwks, cache=cache)
    token = f"Bearer {issuer.token(aud='lattice-ops', sub='op-1', role='admin')}"
    assert policy.authenticate(authorization=token).operator_id == "op-1"
    assert len(cache) == 1
    document.issuers.clear()  # an emergency rotation: the key leaves the set
    with pytest.raises(PolicyDenied) as err:
        policy.authenticate(authorization=token)
    assert err.value.code == "token_invalid"


def test_refusals_are_not_kept(jwks: JwksCache, issuer: TokenIssuer, edge_store: EdgeStore) -> None:
    cache = VerifiedTokens()
    policy = app_policy(jwks, edge_store, cache)
    other_app = f"Bearer {issuer.token(aud='mbank', sub='cus_1')}"
    operator = f"Bearer {issuer.token(aud='lattice-ops', sub='op-1', role='admin')}"
    assert refusal(policy, other_app) == "token_audience"
    assert refusal(policy, operator) == "token_kind"
    assert len(cache) == 0


def test_kept_verifications_expire_and_the_cache_is_bounded() -> None:
    now = [1000.0]
    cache = VerifiedTokens(max_entries=2, clock=lambda: now[0])
    for i in range(3):
        cache.put(f"t{i}", "life", VerifiedToken({"sub": f"c{i}"}, "k", expires_at=1010.0 + i))
    assert len(cache) == 2 and cache.get("t0", "life") is None
    assert cache.get("t1", "mbank") is None  # kept per audience
    assert cache.get("t1", "life") is not None
    now[0] = 1011.0
    assert cache.get("t1", "life") is None and cache.get("t2", "life") is not None
    with pytest.raises(ValueError, match="max_entries"):
        VerifiedTokens(max_entries=0)


def test_only_a_kept_token_with_fresh_keys_and_marks_in_memory_is_answered_inline(
    issuer: TokenIssuer, edge_store: EdgeStore
) -> None:
    """The gateway checks such a token on its event loop; anything that may ask identity, read a file
    or Redis, or verify a signature goes to a worker thread."""
    jwks = JwksCache(Jwks(issuer).fetch, max_age_s=60, min_refresh_interval_s=0)
    policy = app_policy(jwks, edge_store, VerifiedTokens())
    token = f"Bearer {issuer.token(aud='life', sub='cus_1', sid='s-1')}"
    assert not policy.answers_inline(authorization=token, app_id="life")  # nothing fetched or kept yet
    policy.authenticate(authorization=token, app_id="life")
    inline = edge_store.__class__.__name__ == "LayeredEdgeStore"  # the embedded default's store
    assert policy.answers_inline(authorization=token, app_id="life") is inline
    other = f"Bearer {issuer.token(aud='life', sub='cus_2')}"
    assert not policy.answers_inline(authorization=other, app_id="life")  # its signature is unchecked
    assert not policy.answers_inline(authorization=token, app_id="mbank")  # an app the registry lacks
    if inline:
        # a kept token stays refused once its session ends, inline too
        edge_store.claim_once(ended_session_key("s-1"), ttl_s=60)
        assert policy.answers_inline(authorization=token, app_id="life")
        assert refusal(policy, token) == "session_ended"
    stale = app_policy(JwksCache(Jwks(issuer).fetch, max_age_s=0.5), edge_store, VerifiedTokens())
    kept = f"Bearer {issuer.token(aud='life', sub='cus_3')}"
    stale.authenticate(authorization=kept, app_id="life")
    assert not stale.answers_inline(authorization=kept, app_id="life")  # its key set is due for a refetch
