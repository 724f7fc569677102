"""Help for a partner who signs wrongly: the HMAC challenge, the missing headers named, and (outside
production) the canonical request the edge computed, never the secret or the expected signature.

The route test enumerates every partner route of the real gateway app, so a new partner route is
covered the day it is added."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from starlette.requests import Request

from gateway.config import GatewaySettings
from gateway.edge import PartnerSignatures
from gateway.policies.denial import PolicyDenied
from gateway.policies.partner_signature import CHALLENGE, PartnerKey, PartnerSignaturePolicy
from gateway.policies.signing import SIGNED_HEADERS, EdgeRequest, canonical_request, sign
from gateway.policies.store_sqlite import SqliteEdgeStore
from gateway.problems import Problem
from tests.gateway.conftest import PARTNER_SECRET, EdgeGateway, running_gateway
from tests.gateway.keys import PartnerKeys
from tools.partner_client import PartnerSigner, encode_request

WRONG_SECRET = b"w" * 32
DISPLAY = [
    "X-Lattice-Partner",
    "X-Lattice-Key-Id",
    "X-Lattice-Timestamp",
    "X-Lattice-Nonce",
    "X-Lattice-Signature",
]


def request_signed_with(secret: bytes, *, target: str, body: bytes, method: str = "POST") -> EdgeRequest:
    signer = PartnerSigner(partner_id="ride", key_id="k1", secret=secret)
    headers = {
        k.lower(): v
        for k, v in signer.headers(method=method, url="https://api.example" + target, body=body).items()
    }
    path, _, query = target.partition("?")
    return EdgeRequest(method=method, raw_path=path, raw_query=query, headers=headers, body=body)


def policy(tmp_path: Path, *, explain: bool) -> PartnerSignaturePolicy:
    keys = PartnerKeys(PartnerKey(partner_id="ride", key_id="k1", secret=PARTNER_SECRET, not_before=0))
    return PartnerSignaturePolicy(
        keys=keys, store=SqliteEdgeStore(tmp_path / "edge.db"), explain_failures=explain
    )


def refusal(policy: PartnerSignaturePolicy, request: EdgeRequest) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as denied:
        policy.authenticate(request)
    assert denied.value.status == 401
    assert denied.value.headers["WWW-Authenticate"].startswith(CHALLENGE)
    return denied.value


def test_a_wrong_signature_shows_the_canonical_request_and_nothing_secret(tmp_path: Path) -> None:
    body = b'{"amount":100}'
    request = request_signed_with(WRONG_SECRET, target="/v1/partner/benefits/redeem?b=2&a=x%20y", body=body)
    denied = refusal(policy(tmp_path, explain=True), request)
    assert denied.code == "signature_invalid"
    shown = denied.extra["canonical_request"]
    assert shown["method"] == "POST" and shown["path"] == "/v1/partner/benefits/redeem"
    assert shown["canonical_query"] == "a=x%20y&b=2"
    assert shown["body_sha256"] == hashlib.sha256(body).hexdigest()
    headers = request.headers
    expected_string = canonical_request(
        method="POST",
        raw_path="/v1/partner/benefits/redeem",
        raw_query="b=2&a=x%20y",
        partner_id="ride",
        key_id="k1",
        timestamp=int(headers["x-lattice-timestamp"]),
        nonce=headers["x-lattice-nonce"],
        body=body,
    )
    assert shown["string_to_sign"] == expected_string
    assert (
        shown["timestamp"] == headers["x-lattice-timestamp"] and shown["nonce"] == headers["x-lattice-nonce"]
    )
    assert shown["body_length"] == len(body)
    everything = json.dumps(denied.extra) + denied.detail + json.dumps(denied.headers)
    expected_signature = base64.b64encode(sign(PARTNER_SECRET, expected_string)).decode()
    assert expected_signature not in everything
    assert sign(PARTNER_SECRET, expected_string).hex() not in everything
    assert (
        PARTNER_SECRET.decode() not in everything
        and base64.b64encode(PARTNER_SECRET).decode() not in everything
    )


def test_in_production_a_wrong_signature_explains_nothing(tmp_path: Path) -> None:
    request = request_signed_with(WRONG_SECRET, target="/v1/partner/bindings", body=b"{}")
    denied = refusal(policy(tmp_path, explain=False), request)
    assert denied.code == "signature_invalid" and denied.extra == {}


@pytest.mark.parametrize("missing", [[name] for name in SIGNED_HEADERS] + [list(SIGNED_HEADERS)])
def test_signature_missing_names_each_missing_header(tmp_path: Path, missing: list[str]) -> None:
    request = request_signed_with(PARTNER_SECRET, target="/v1/partner/bindings", body=b"{}")
    headers = {k: v for k, v in request.headers.items() if k not in missing}
    denied = refusal(
        policy(tmp_path, explain=False),
        EdgeRequest(
            method="POST", raw_path=request.raw_path, raw_query="", headers=headers, body=request.body
        ),
    )
    named = [DISPLAY[SIGNED_HEADERS.index(name)] for name in missing]
    assert denied.code == "signature_missing" and denied.extra == {"missing_headers": named}
    assert all(name in denied.detail for name in named)


def test_the_setting_is_on_outside_production_and_cannot_be_on_in_production() -> None:
    assert GatewaySettings(environment="development").signature_help
    assert GatewaySettings(environment="test").signature_help
    assert not GatewaySettings(environment="test", explain_signature_failures=False).signature_help
    production = GatewaySettings(environment="production", pepper="a-real-pepper-for-this-test")
    assert not production.signature_help
    with pytest.raises(ValidationError, match="EXPLAIN_SIGNATURE_FAILURES"):
        GatewaySettings(
            environment="production", pepper="a-real-pepper-for-this-test", explain_signature_failures=True
        )


# ---- every partner route of the real gateway, over HTTP ----


@pytest.fixture(scope="module")
async def partner_gateway(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str
) -> AsyncIterator[EdgeGateway]:
    async with running_gateway(tmp_path_factory.mktemp("signature-help"), nats_url) as gw:
        yield gw


def partner_routes(gw: EdgeGateway) -> list[tuple[str, str]]:
    """(method, concrete path) of every partner operation the gateway documents (probe routes excluded)."""
    found = []
    for path, operations in gw.app.openapi()["paths"].items():
        if not path.startswith("/v1/partner/") or path.startswith("/v1/partner/probe"):
            continue
        concrete = re.sub(r"\{[^}]+\}", "abc_123-x", path)
        found += [(method.upper(), concrete) for method in operations if method != "parameters"]
    return found


async def test_every_partner_route_challenges_and_helps(partner_gateway: EdgeGateway) -> None:
    routes = partner_routes(partner_gateway)
    assert len(routes) >= 5, routes
    async with httpx.AsyncClient(base_url=partner_gateway.url, timeout=30) as http:
        for method, path in routes:
            unsigned = await http.request(method, path + "?page_size=5")
            assert unsigned.status_code == 401, (method, path, unsigned.text)
            assert unsigned.headers["www-authenticate"].startswith(CHALLENGE), (method, path)
            assert unsigned.headers["content-type"] == "application/problem+json"
            assert unsigned.json()["code"] == "signature_missing"
            assert unsigned.json()["missing_headers"] == DISPLAY

            target, body, headers = encode_request(
                path, params={"z": "1", "a": "b c"}, json_body=None if method == "GET" else {"k": "v"}
            )
            signer = PartnerSigner(partner_id="ride", key_id="k1", secret=WRONG_SECRET, clock=time.time)
            headers |= signer.headers(method=method, url=partner_gateway.url + target, body=body)
            wrong = await http.request(method, target, content=body, headers=headers)
            assert wrong.status_code == 401, (method, path, wrong.text)
            assert wrong.headers["www-authenticate"].startswith(CHALLENGE), (method, path)
            problem = wrong.json()
            assert problem["code"] == "signature_invalid", (method, path, problem)
            shown = problem["canonical_request"]
            assert (shown["method"], shown["path"], shown["canonical_query"]) == (method, path, "a=b%20c&z=1")
            assert shown["timestamp"] == headers["X-Lattice-Timestamp"]
            expected = base64.b64encode(sign(PARTNER_SECRET, shown["string_to_sign"])).decode()
            assert expected not in wrong.text and PARTNER_SECRET.decode() not in wrong.text


async def test_behind_kong_a_partner_request_that_bypassed_it_is_challenged_to_sign(tmp_path: Path) -> None:
    """The gateway trusting Kong refuses a partner request without Kong's headers with the same challenge."""
    signatures = PartnerSignatures(policy=policy(tmp_path, explain=True), kong_secret="k" * 32)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/partner/bindings",
        "raw_path": b"/v1/partner/bindings",
        "query_string": b"",
        "headers": [(b"x-lattice-partner", b"ride")],
    }
    with pytest.raises(Problem) as refused:
        await signatures.authenticate(Request(scope))
    assert refused.value.status == 401 and refused.value.code == "edge_untrusted"
    assert refused.value.headers["WWW-Authenticate"] == CHALLENGE
