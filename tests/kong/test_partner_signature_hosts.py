"""Signed partner requests give the same outcome through the gateway and through the Kong plugin server."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.kong.conftest import EDGE_SECRET
from tests.kong.harness import PluginServer, ProxiedRequest
from tests.kong.identity_admin import register_partner, rotate_partner_key
from tools.partner_client import PartnerSigner, encode_request
from tools.stack import Stack

PASS = "pass"


@dataclass(frozen=True)
class Credentials:
    partner_id: str
    key_id: str
    secret: bytes


@dataclass(frozen=True)
class Outgoing:
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


def signed(
    base: str,
    creds: Credentials,
    *,
    skew_s: float = 0,
    sign_method: str = "POST",
    params: dict[str, str] | None = None,
    key_id: str | None = None,
) -> Outgoing:
    signer = PartnerSigner(
        partner_id=creds.partner_id,
        key_id=key_id or creds.key_id,
        secret=creds.secret,
        clock=lambda: time.time() + skew_s,
    )
    body_json = {"partner_user_ref": f"user-{uuid.uuid4().hex[:10]}"}
    target, body, headers = encode_request("/v1/partner/bindings", params=params, json_body=body_json)
    url = base + target
    return Outgoing("POST", url, body, {**headers, **signer.headers(method=sign_method, url=url, body=body)})


def _replace(out: Outgoing, **changes: object) -> Outgoing:
    return Outgoing(**{**out.__dict__, **changes})


SCENARIOS: dict[str, tuple[Callable[[str, Credentials], list[Outgoing]], object]] = {
    "fresh": (lambda b, c: [signed(b, c)], PASS),
    # the window is 300 s; a margin of 10 s keeps a request that waits on a loaded machine on its side
    "now-290s": (lambda b, c: [signed(b, c, skew_s=-290)], PASS),
    "now-310s": (lambda b, c: [signed(b, c, skew_s=-310)], 401),
    "now+310s": (lambda b, c: [signed(b, c, skew_s=310)], 401),
    "exact-replay": (lambda b, c: [r := signed(b, c), r], 401),
    "body-byte": (lambda b, c: [_replace(r := signed(b, c), body=r.body.replace(b"user-", b"usex-"))], 401),
    "query-param": (lambda b, c: [_replace(r := signed(b, c, params={"v": "1"}), url=r.url + "&x=2")], 401),
    "method": (lambda b, c: [signed(b, c, sign_method="PUT")], 401),
    "unknown-key": (lambda b, c: [signed(b, c, key_id="no-such-key")], 401),
}


def through_gateway(gateway: httpx.Client, requests: list[Outgoing]) -> object:
    outcome: object = None
    for r in requests:
        resp = gateway.request(r.method, r.url, content=r.body, headers=r.headers)
        assert resp.status_code < 500, resp.text
        outcome = PASS if resp.status_code < 400 else resp.status_code
    return outcome


def through_kong(server: PluginServer, instance: int, requests: list[Outgoing]) -> object:
    kong = server.connect()
    try:
        outcome: object = None
        for r in requests:
            done = kong.access(instance, ProxiedRequest(r.method, r.url, dict(r.headers), r.body))
            outcome = PASS if done.exit is None else done.exit[0]
            if done.exit is None:
                assert done.upstream_headers["x-lattice-auth-secret"] == EDGE_SECRET
        return outcome
    finally:
        kong.close()


@pytest.fixture(scope="module")
def partner(stack: Stack) -> Credentials:
    return Credentials(*register_partner(stack, "edge"))


@pytest.fixture(scope="module")
def signature_instance(plugin_servers: dict[str, PluginServer], kong_prefix) -> int:
    return plugin_servers["lattice_partner_signature"].start_instance(
        {"store_path": str(kong_prefix / "edge.db")}
    )


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_outcome_on_both_hosts(
    scenario: str,
    gateway: httpx.Client,
    plugin_servers: dict[str, PluginServer],
    signature_instance: int,
    partner: Credentials,
) -> None:
    build, expected = SCENARIOS[scenario]
    base = str(gateway.base_url).rstrip("/")
    assert through_gateway(gateway, build(base, partner)) == expected
    assert (
        through_kong(plugin_servers["lattice_partner_signature"], signature_instance, build(base, partner))
        == expected
    )


def test_key_rotation_overlap_on_both_hosts(
    stack: Stack, gateway: httpx.Client, plugin_servers: dict[str, PluginServer], signature_instance: int
) -> None:
    partner_id, old_key, old_secret = register_partner(stack, "rot")
    new_key, new_secret = rotate_partner_key(stack, partner_id, overlap_s=3)
    old, new = Credentials(partner_id, old_key, old_secret), Credentials(partner_id, new_key, new_secret)
    base = str(gateway.base_url).rstrip("/")
    server = plugin_servers["lattice_partner_signature"]
    rotated_at = time.monotonic()
    for creds in (old, new):
        assert through_gateway(gateway, [signed(base, creds)]) == PASS
        assert through_kong(server, signature_instance, [signed(base, creds)]) == PASS
    time.sleep(max(0.0, 3.5 - (time.monotonic() - rotated_at)))
    assert through_gateway(gateway, [signed(base, old)]) == 401
    assert through_kong(server, signature_instance, [signed(base, old)]) == 401
    assert through_gateway(gateway, [signed(base, new)]) == PASS
    assert through_kong(server, signature_instance, [signed(base, new)]) == PASS


def test_a_key_revoked_with_no_overlap_is_refused_by_kong_within_a_second(
    stack: Stack, gateway: httpx.Client, plugin_servers: dict[str, PluginServer]
) -> None:
    server = plugin_servers["lattice_partner_signature"]
    # the store the gateway's consumer marks revoked keys in (Redis, shared the same way, in compose)
    instance = server.start_instance({"store_path": str(stack.config.var_dir / "edge.db")})
    partner_id, key_id, secret = register_partner(stack, "rev")
    old = Credentials(partner_id, key_id, secret)
    base = str(gateway.base_url).rstrip("/")
    assert through_kong(server, instance, [signed(base, old)]) == PASS  # the key is in the plugin's cache
    rotate_partner_key(stack, partner_id, overlap_s=0)
    revoked_at = time.monotonic()
    while through_kong(server, instance, [signed(base, old)]) != 401:
        assert time.monotonic() - revoked_at < 2.0, "the revoked key still passes at Kong"
        time.sleep(0.05)
    assert time.monotonic() - revoked_at <= 1.0


def test_the_plugin_replaces_identity_headers_a_caller_sent(
    plugin_servers: dict[str, PluginServer], signature_instance: int, partner: Credentials
) -> None:
    out = signed("http://kong.example", partner)
    forged = {
        **out.headers,
        "X-Lattice-Auth-Customer": "cus_victim",
        "X-Lattice-Auth-Partner": "someone-else",
    }
    kong = plugin_servers["lattice_partner_signature"].connect()
    try:
        done = kong.access(signature_instance, ProxiedRequest(out.method, out.url, forged, out.body))
    finally:
        kong.close()
    assert done.exit is None
    assert done.upstream_headers["x-lattice-auth-partner"] == partner.partner_id
    assert done.upstream_headers["x-lattice-auth-kind"] == "partner"
    assert "x-lattice-auth-customer" in done.cleared


def test_the_plugin_answers_even_when_identity_is_unreachable(
    plugin_servers: dict[str, PluginServer],
    kong_prefix,
    partner: Credentials,
) -> None:
    server = plugin_servers["lattice_partner_signature"]
    instance = server.start_instance(
        {"identity_addr": "127.0.0.1:9", "store_path": str(kong_prefix / "down.db")}
    )
    kong = server.connect()
    try:
        out = signed("http://kong.example", partner)
        done = kong.access(instance, ProxiedRequest(out.method, out.url, out.headers, out.body))
    finally:
        kong.close()
    assert done.exit is not None and done.exit[0] == 503
    assert done.exit[2]["Content-Type"] == "application/problem+json"


def test_a_wrongly_signed_request_gets_the_same_help_from_both_hosts(
    gateway: httpx.Client,
    plugin_servers: dict[str, PluginServer],
    signature_instance: int,
    partner: Credentials,
) -> None:
    """The HMAC challenge, the missing headers and (outside production) the canonical request."""
    base = str(gateway.base_url).rstrip("/")
    wrong = Credentials(partner.partner_id, partner.key_id, b"not-the-secret-" + b"x" * 17)
    forged = signed(base, wrong, params={"b": "2", "a": "x y"})
    unsigned = _replace(signed(base, partner), headers={"Content-Type": "application/json"})
    kong = plugin_servers["lattice_partner_signature"].connect()
    try:
        for out, code in ((forged, "signature_invalid"), (unsigned, "signature_missing")):
            via_gateway = gateway.request(out.method, out.url, content=out.body, headers=out.headers)
            done = kong.access(
                signature_instance, ProxiedRequest(out.method, out.url, dict(out.headers), out.body)
            )
            assert done.exit is not None
            status, body, headers = done.exit
            via_kong = json.loads(body)
            assert (status, via_kong["code"]) == (via_gateway.status_code, code) == (401, code)
            assert headers["WWW-Authenticate"] == via_gateway.headers["www-authenticate"]
            assert headers["WWW-Authenticate"].startswith('LATTICE-HMAC-SHA256 realm="partner"')
            for member in ("canonical_request", "missing_headers"):
                assert via_kong.get(member) == via_gateway.json().get(member)
            if code == "signature_invalid":
                shown = via_kong["canonical_request"]
                assert (shown["path"], shown["canonical_query"]) == ("/v1/partner/bindings", "a=x%20y&b=2")
                assert partner.secret.decode("latin-1") not in body
            else:
                assert "X-Lattice-Signature" in via_kong["missing_headers"]
    finally:
        kong.close()
