"""Every URL field that is fetched or redirected to, and every money field, on every route and RPC.

The fields are found in the OpenAPI document and the protobuf descriptors, so a new URL field that
this test does not try fails it. Hostile URLs are generated (tests/conversion/hostile_urls.py).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.descriptor import Descriptor
from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.identity.v1 import identity_pb2 as ipb
from sqlmodel import Session

from services.conversion.models import PostbackEndpoint
from tests.conversion.conftest import AUTHOR, unique
from tests.conversion.hostile_urls import hostile_urls
from tests.conversion.system import System, running_system
from tests.support import actors

# (method, path, body field): every URL the platform will fetch or send visitors to
URL_ROUTES = {
    ("post", "/v1/ops/partners", "postback_url"),
    ("put", "/v1/ops/conversion/partners/{partner_id}/postback", "url"),
    ("post", "/v1/ops/conversion/campaigns", "landing_url"),
    ("patch", "/v1/ops/conversion/campaigns/{campaign_id}", "landing_url"),
}
URL_RPCS = {
    ("conversion", "CreateCampaign", "campaign.landing_url"),
    ("conversion", "UpdateCampaign", "campaign.landing_url"),
    ("conversion", "SetPostbackEndpoint", "url"),
    ("identity", "RegisterPartner", "partner.postback_url"),
}
MY_PATHS = ("/v1/ops/conversion", "/v1/partner", "/v1/ops/partners", "/r/")
BAD_MONEY: list[Any] = [True, False, "100", "1e2", 1e2, 100.0, 1.5, -1, 10**9 + 1, 2**63, None, [], {}, ""]


def _body_fields(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else {}
    return set(schema.get("properties", {}))


def url_routes_in_openapi(spec: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (method, path, name)
        for path, operations in spec["paths"].items()
        if path.startswith(MY_PATHS)
        for method, operation in operations.items()
        for name in _body_fields(spec, operation)
        if "url" in name or "uri" in name or "link" in name
    }


def _url_fields(message: Descriptor, prefix: str = "", seen: frozenset[str] = frozenset()) -> set[str]:
    found = set()
    for field in message.fields:
        if field.message_type is not None and field.message_type.full_name not in seen:
            inner = seen | {message.full_name}
            found |= _url_fields(field.message_type, f"{prefix}{field.name}.", inner)
        elif field.type == field.TYPE_STRING and ("url" in field.name or "link" in field.name):
            found.add(prefix + field.name)
    return found


def url_rpcs_in_descriptors() -> set[tuple[str, str, str]]:
    services = [("conversion", pb.DESCRIPTOR.services_by_name["ConversionService"])]
    services += [("identity", service) for service in ipb.DESCRIPTOR.services_by_name.values()]
    return {
        (name, method.name, field)
        for name, service in services
        for method in service.methods
        if method.name.startswith(("Create", "Update", "Set", "Register"))
        for field in _url_fields(method.input_type)
        if not field.startswith("campaign.pending.")  # output-only: the change waiting for review
    }


def test_every_url_field_is_under_test() -> None:
    from gateway.app import create_app
    from gateway.config import GatewaySettings

    spec = create_app(GatewaySettings(environment="test")).openapi()
    assert url_routes_in_openapi(spec) == URL_ROUTES
    assert url_rpcs_in_descriptors() == URL_RPCS


def _campaign_body(campaign_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "partner_id": "ride",
        "name": "Trust boundaries",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/welcome",
        "cpa_amount_minor": 1000,
        **fields,
    }


def refused(resp: httpx.Response, what: str) -> None:
    assert resp.status_code == 422, f"{what}: {resp.status_code} {resp.text}"
    assert resp.headers["content-type"].startswith("application/problem+json"), what


def hostile_routes(gw: httpx.Client, system: System) -> None:
    admin, ops = actors.operator_headers(gw, "hq-admin"), actors.operator_headers(gw, "hq-operator")
    receiver = system.receiver.url("/ride/postbacks")
    assert gw.put(
        "/v1/ops/conversion/partners/ride/postback", json={"url": receiver}, headers=admin
    ).is_success
    existing = unique("urls")
    assert (
        gw.post("/v1/ops/conversion/campaigns", json=_campaign_body(existing), headers=ops).status_code == 201
    )
    versions = gw.get(f"/v1/ops/conversion/campaigns/{existing}/versions", headers=ops).json()
    tried: list[str] = []
    for n, url in enumerate(hostile_urls()):
        partner_id = f"evil-{n}-{uuid.uuid4().hex[:4]}"
        body = {"partner_id": partner_id, "name": "Evil", "sector": "test", "postback_url": url}
        refused(gw.post("/v1/ops/partners", json=body, headers=admin), f"partner {url!r}")
        tried.append(partner_id)
        put = gw.put("/v1/ops/conversion/partners/ride/postback", json={"url": url}, headers=admin)
        refused(put, f"postback {url!r}")
        campaign_id = f"evil-{n}-{uuid.uuid4().hex[:4]}"
        created = gw.post(
            "/v1/ops/conversion/campaigns", json=_campaign_body(campaign_id, landing_url=url), headers=ops
        )
        refused(created, f"landing {url!r}")
        assert gw.get(f"/v1/ops/conversion/campaigns/{campaign_id}", headers=ops).status_code == 404
        patched = gw.patch(f"/v1/ops/conversion/campaigns/{existing}", json={"landing_url": url}, headers=ops)
        refused(patched, f"landing change {url!r}")
    for partner_id in tried:  # nothing stored
        assert gw.get(f"/v1/ops/partners/{partner_id}", headers=admin).status_code == 404
    assert gw.get(f"/v1/ops/conversion/campaigns/{existing}/versions", headers=ops).json() == versions
    with Session(system.conversion.service.ctx.engine) as session:
        endpoint = session.get(PostbackEndpoint, "ride")
        assert endpoint is not None and endpoint.url == receiver


async def hostile_rpcs(system: System) -> None:
    stub = system.conversion.stub
    existing = await system.conversion.campaign("ride", approve=False)
    for url in hostile_urls():
        campaign = pb.Campaign(
            campaign_id=unique("rpc"),
            partner_id="ride",
            name="Evil",
            target_app_id="life",
            landing_url=url,
        )
        partner = ipb.Partner(partner_id=unique("evil"), name="Evil", sector="test", postback_url=url)
        calls = [
            stub.CreateCampaign(pb.CreateCampaignRequest(campaign=campaign, actor=AUTHOR)),
            stub.UpdateCampaign(
                pb.UpdateCampaignRequest(
                    campaign=pb.Campaign(campaign_id=existing, landing_url=url),
                    update_mask=["landing_url"],
                    actor=AUTHOR,
                )
            ),
            stub.SetPostbackEndpoint(pb.SetPostbackEndpointRequest(partner_id="ride", url=url)),
        ]
        if url:  # an empty postback URL at registration means "none yet"
            calls.append(system.identity.RegisterPartner(ipb.RegisterPartnerRequest(partner=partner)))
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, url


def strict_money(gw: httpx.Client) -> None:
    ops = actors.operator_headers(gw, "hq-operator")
    existing = unique("money")
    assert (
        gw.post("/v1/ops/conversion/campaigns", json=_campaign_body(existing), headers=ops).status_code == 201
    )
    versions = gw.get(f"/v1/ops/conversion/campaigns/{existing}/versions", headers=ops).json()
    for value in BAD_MONEY:
        campaign_id = unique("money")
        created = gw.post(
            "/v1/ops/conversion/campaigns",
            json=_campaign_body(campaign_id, cpa_amount_minor=value),
            headers=ops,
        )
        refused(created, f"cpa {value!r}")
        assert gw.get(f"/v1/ops/conversion/campaigns/{campaign_id}", headers=ops).status_code == 404
        if value is not None:  # null in a PATCH means "unchanged"
            patched = gw.patch(
                f"/v1/ops/conversion/campaigns/{existing}", json={"cpa_amount_minor": value}, headers=ops
            )
            refused(patched, f"cpa change {value!r}")
    assert gw.get(f"/v1/ops/conversion/campaigns/{existing}/versions", headers=ops).json() == versions


async def test_hostile_urls_and_loose_money_are_refused_everywhere_and_nothing_is_stored(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        with system.client() as gw:
            await asyncio.to_thread(hostile_routes, gw, system)
            await hostile_rpcs(system)
            await asyncio.to_thread(strict_money, gw)
