"""The partner signature policy against requests signed by the reference client (tools/partner_client.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gateway.policies.denial import PolicyDenied
from gateway.policies.partner_signature import INLINE_BODY_BYTES, PartnerKey, PartnerSignaturePolicy
from gateway.policies.signing import EdgeRequest
from gateway.policies.store import open_store
from gateway.policies.store_sqlite import SqliteEdgeStore
from tests.gateway.keys import PartnerKeys
from tools.partner_client import PartnerSigner

BASE = "https://api.bank.example"
SECRET = b"s" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def policy(tmp_path: Path, clock: Clock) -> PartnerSignaturePolicy:
    keys = PartnerKeys(
        PartnerKey(partner_id="ride", key_id="k1", secret=SECRET, not_before=0),
        PartnerKey(
            partner_id="food", key_id="old", secret=b"o" * 32, not_before=0, not_after=clock.now + 3600
        ),
        PartnerKey(partner_id="food", key_id="new", secret=b"n" * 32, not_before=clock.now - 60),
    )
    return PartnerSignaturePolicy(keys=keys, store=SqliteEdgeStore(tmp_path / "edge.db"), clock=clock)


def signed(
    clock: Clock,
    *,
    method: str = "POST",
    target: str = "/v1/partner/benefits/redeem?b=2&a=1",
    body: bytes = b'{"amount":100,"pairwise_id":"pw-1"}',
    partner: str = "ride",
    key_id: str = "k1",
    secret: bytes = SECRET,
    skew_s: float = 0,
) -> EdgeRequest:
    signer = PartnerSigner(partner_id=partner, key_id=key_id, secret=secret, clock=lambda: clock.now + skew_s)
    headers = {k.lower(): v for k, v in signer.headers(method=method, url=BASE + target, body=body).items()}
    path, _, query = target.partition("?")
    return EdgeRequest(method=method, raw_path=path, raw_query=query, headers=headers, body=body)


def denied_code(policy: PartnerSignaturePolicy, request: EdgeRequest) -> str:
    with pytest.raises(PolicyDenied) as err:
        policy.authenticate(request)
    assert err.value.status == 401
    return err.value.code


def test_a_fresh_signed_request_is_accepted(policy: PartnerSignaturePolicy, clock: Clock) -> None:
    partner = policy.authenticate(signed(clock))
    assert (partner.partner_id, partner.key_id) == ("ride", "k1")


@pytest.mark.parametrize("skew_s, accepted", [(-299, True), (299, True), (-301, False), (301, False)])
def test_timestamp_window_is_300_seconds(
    policy: PartnerSignaturePolicy, clock: Clock, skew_s: int, accepted: bool
) -> None:
    request = signed(clock, skew_s=skew_s)
    if accepted:
        assert policy.authenticate(request).partner_id == "ride"
    else:
        assert denied_code(policy, request) == "signature_expired"


def test_an_exact_replay_is_rejected_for_the_whole_window(
    policy: PartnerSignaturePolicy, clock: Clock
) -> None:
    request = signed(clock)
    policy.authenticate(request)
    assert denied_code(policy, request) == "nonce_reused"
    clock.now += 290
    assert denied_code(policy, request) == "nonce_reused"


def _tampered(request: EdgeRequest, **changes: object) -> EdgeRequest:
    return EdgeRequest(**{**request.__dict__, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"body": b'{"amount":101,"pairwise_id":"pw-1"}'},
        {"body": b'{"amount":100,"pairwise_id":"pw-1"} '},
        {"raw_query": "b=2&a=1&c=3"},
        {"raw_query": "b=3&a=1"},
        {"method": "PUT"},
        {"raw_path": "/v1/partner/benefits/redeem/"},
    ],
    ids=["body-byte", "body-trailing-space", "query-added", "query-changed", "method", "path"],
)
def test_any_change_to_the_signed_request_is_rejected(
    policy: PartnerSignaturePolicy, clock: Clock, changes: dict
) -> None:
    assert denied_code(policy, _tampered(signed(clock), **changes)) == "signature_invalid"


def test_reserialised_json_is_rejected(policy: PartnerSignaturePolicy, clock: Clock) -> None:
    request = signed(clock)
    same_data = json.dumps(json.loads(request.body), indent=1).encode()
    assert json.loads(same_data) == json.loads(request.body)
    assert denied_code(policy, _tampered(request, body=same_data)) == "signature_invalid"


def test_query_order_does_not_matter_but_values_do(policy: PartnerSignaturePolicy, clock: Clock) -> None:
    request = signed(clock, target="/v1/partner/offers?city=S%C3%A3o+Paulo&page_size=10")
    reordered = _tampered(request, raw_query="page_size=10&city=S%C3%A3o%20Paulo")
    assert policy.authenticate(reordered).partner_id == "ride"


def test_unknown_key_and_wrong_secret_are_rejected(policy: PartnerSignaturePolicy, clock: Clock) -> None:
    assert denied_code(policy, signed(clock, key_id="k9")) == "unknown_key"
    assert denied_code(policy, signed(clock, partner="food", key_id="k1")) == "unknown_key"
    assert denied_code(policy, signed(clock, secret=b"x" * 32)) == "signature_invalid"


def test_rotation_overlap_then_old_key_rejected(policy: PartnerSignaturePolicy, clock: Clock) -> None:
    assert policy.authenticate(signed(clock, partner="food", key_id="old", secret=b"o" * 32)).key_id == "old"
    assert policy.authenticate(signed(clock, partner="food", key_id="new", secret=b"n" * 32)).key_id == "new"
    clock.now += 3601
    assert denied_code(policy, signed(clock, partner="food", key_id="old", secret=b"o" * 32)) == "unknown_key"
    assert policy.authenticate(signed(clock, partner="food", key_id="new", secret=b"n" * 32)).key_id == "new"


@pytest.mark.parametrize(
    "header, value",
    [
        ("x-lattice-signature", None),
        ("x-lattice-signature", "not base64!"),
        ("x-lattice-timestamp", "12.5"),
        ("x-lattice-nonce", "short"),
        ("x-lattice-partner", "Ride Co"),
    ],
)
def test_missing_or_malformed_headers_are_rejected(
    policy: PartnerSignaturePolicy, clock: Clock, header: str, value: str | None
) -> None:
    request = signed(clock)
    headers = dict(request.headers)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    assert denied_code(policy, _tampered(request, headers=headers)).startswith("signature_")


def test_a_forged_request_does_not_burn_the_nonce(policy: PartnerSignaturePolicy, clock: Clock) -> None:
    genuine = signed(clock)
    forged = _tampered(genuine, body=b"{}")
    assert denied_code(policy, forged) == "signature_invalid"
    assert policy.authenticate(genuine).partner_id == "ride"


def test_the_policy_refuses_a_nonce_memory_shorter_than_twice_the_window(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PartnerSignaturePolicy(keys=PartnerKeys(), store=SqliteEdgeStore(tmp_path / "e.db"), nonce_ttl_s=599)


def test_nonces_are_remembered_in_the_store_for_600_seconds(tmp_path: Path) -> None:
    store = SqliteEdgeStore(tmp_path / "edge.db")
    assert store.claim_once("nonce:ride:n1", ttl_s=600)
    row = store._db().execute("SELECT expires_at FROM edge_once WHERE key = 'nonce:ride:n1'").fetchone()
    assert row[0] - time.time() == pytest.approx(600, abs=2)


class HeldKeys(PartnerKeys):
    """Keys as the gateway's identity client holds them: some cached, the rest to ask identity for."""

    def __init__(self, *keys: PartnerKey, held: set[tuple[str, str]]) -> None:
        super().__init__(*keys)
        self.held = held

    def holds(self, *, partner_id: str, key_id: str) -> bool:
        return (partner_id, key_id) in self.held


def test_only_a_held_key_small_body_and_edge_state_in_memory_are_checked_inline(
    tmp_path: Path, clock: Clock
) -> None:
    """The gateway checks such a request on its event loop, the rest in a worker thread; the answer
    (a replay refused included) is the same."""
    key = PartnerKey(partner_id="ride", key_id="k1", secret=SECRET, not_before=0)
    memory = open_store(redis_url="", sqlite_path=tmp_path / "edge.db", memory=True)
    policy = PartnerSignaturePolicy(keys=HeldKeys(key, held={("ride", "k1")}), store=memory, clock=clock)
    request = signed(clock)
    assert policy.answers_inline(request)
    assert policy.authenticate(request).partner_id == "ride"
    assert policy.answers_inline(request) and denied_code(policy, request) == "nonce_reused"
    assert not policy.answers_inline(signed(clock, body=b"x" * (INLINE_BODY_BYTES + 1)))
    unheld = PartnerSignaturePolicy(keys=HeldKeys(key, held=set()), store=memory, clock=clock)
    assert not unheld.answers_inline(signed(clock))  # its key would be fetched from identity
    in_file = PartnerSignaturePolicy(
        keys=HeldKeys(key, held={("ride", "k1")}), store=SqliteEdgeStore(tmp_path / "f.db"), clock=clock
    )
    assert not in_file.answers_inline(signed(clock))
    memory.close()
