"""Every route with a body answers 415 to a body that is not JSON; no route shows an unset time as 1970."""

from __future__ import annotations

import ast
import asyncio
import re

import httpx
import pytest
from lattice.reach.v1 import reach_pb2

from gateway.app import create_app
from gateway.media_types import body_routes
from gateway.routes.reach.public import DeliveryPublic
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.proto_mapping import from_proto
from tests.conftest import repo_root

_PARAM = re.compile(r"\{[^}]+\}")
# OAuth 2.0 token endpoints are the only routes that may take a form (RFC 6749 section 4.4.2)
_FORM_ROUTE = re.compile(r"^/v1/(ops/token|apps/\{app_id\}/token|oauth/[a-z_/]+)$")


def _body_routes() -> list[tuple[str, str, bool]]:
    """(method, a concrete path, takes a form) of every route with a body method."""
    return [
        (method, _PARAM.sub("mbank", route.path), route.form)
        for route in body_routes(create_app())
        for method in sorted(route.methods)
    ]


def test_only_oauth_token_endpoints_take_a_form() -> None:
    forms = [path for _, path, form in _body_routes() if form]
    assert all(_FORM_ROUTE.match(p.replace("mbank", "{app_id}")) for p in forms), forms


def test_every_route_with_a_body_refuses_what_is_not_json() -> None:
    """In process: the edge refuses before any route or service runs, so no system is needed."""
    routes = _body_routes()
    assert len(routes) > 50  # the enumeration found the API, not an empty app

    async def send_all() -> list[tuple[str, str, str, httpx.Response]]:
        transport = httpx.ASGITransport(app=create_app())
        answers = []
        async with httpx.AsyncClient(transport=transport, base_url="http://lattice.test") as client:
            for method, path, form in routes:
                kinds = ["text/plain", "application/xml"] + ([] if form else [FORM])
                for kind in kinds:
                    resp = await client.request(method, path, content=b"a=b", headers={"content-type": kind})
                    answers.append((method, path, kind, resp))
                bare = await client.request(method, path, content=b"{}", headers={"content-type": ""})
                answers.append((method, path, "(none)", bare))
        return answers

    for method, path, kind, resp in asyncio.run(send_all()):
        assert resp.status_code == 415, (method, path, kind, resp.status_code, resp.text)
        problem = resp.json()
        assert (
            problem["code"] == "unsupported_media_type"
            and problem["type"] == "/problems/unsupported_media_type"
        )
        assert resp.headers["content-type"].startswith("application/problem+json")


FORM = "application/x-www-form-urlencoded"


def test_json_with_a_charset_and_json_suffixes_pass_the_media_check(gateway: httpx.Client) -> None:
    for kind in ("application/json; charset=utf-8", "application/merge-patch+json"):
        resp = gateway.post("/v1/ops/partners", content=b"{}", headers={"content-type": kind})
        assert resp.status_code == 401, (kind, resp.text)  # on to authentication: the media type passed
    refused = gateway.post("/v1/ops/partners", content=b"partner_id=x", headers={"content-type": FORM})
    assert refused.status_code == 415 and "application/json" in refused.json()["detail"]


def test_every_protobuf_time_goes_through_the_null_aware_mapping() -> None:
    """Route code (what answers JSON) maps Timestamps only through from_timestamp (zero -> null) or
    proto_mapping (unset or zero -> null): a direct ToJsonString / ToDatetime / MessageToDict shows
    an unset time as 1970-01-01."""
    direct = []
    for path in sorted((repo_root() / "gateway" / "routes").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name in ("ToJsonString", "ToDatetime", "MessageToDict", "MessageToJson"):
                    direct.append(f"{path.relative_to(repo_root())}:{node.lineno} {name}")
    assert direct == []


@pytest.mark.parametrize("opened", [None, "now"])
def test_an_unopened_message_has_a_null_opened_at(opened: str | None) -> None:
    when = utcnow() if opened else None
    # as reach's service builds it: to_timestamp(None) sets the field to the epoch
    delivery = reach_pb2.Delivery(
        delivery_id="d1", created_at=to_timestamp(utcnow()), opened_at=to_timestamp(when)
    )
    assert delivery.HasField("opened_at")
    data = from_proto(DeliveryPublic, delivery).model_dump(mode="json")
    assert data["delivered_at"] is None
    assert (data["opened_at"] is None) == (opened is None)
    assert not str(data["opened_at"]).startswith("1970")
    assert data["created_at"] and not data["created_at"].startswith("1970")
