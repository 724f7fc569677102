"""Fixtures of the content tests: a migrated database, operators, item builders and the gateway desk."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc
from lattice.identity.v1 import identity_pb2 as ipb
from lattice.identity.v1 import identity_pb2_grpc
from sqlalchemy.engine import Engine

from services.content import catalogue, review
from services.content.__main__ import wire as content_wire
from services.content.catalogue import Actor
from services.content.convert import variants_to_pb
from services.identity.__main__ import wire as identity_wire
from services.identity.app_client import app_assertion
from services.runtime.db import make_engine, migrate
from tests.gateway.conftest import EdgeGateway, running_gateway
from tests.gateway.keys import TokenIssuer
from tests.support.databases import DATABASE_KINDS, fresh_database_url
from tests.support.inprocess import serve

AUTHOR = Actor(operator_id="op-author", role="operator")
REVIEWER = Actor(operator_id="op-reviewer", role="reviewer")
BRANCH_SZ = Actor(operator_id="op-sz", role="reviewer", branch="shenzhen")
BRANCH_GZ = Actor(operator_id="op-gz", role="reviewer", branch="guangzhou")


def texts(
    title: str, body: str = "", *, zh_title: str | None = None, zh_body: str | None = None
) -> dict[str, Any]:
    return {
        "texts": {
            "zh-Hans": {
                "title": zh_title or f"{title} (zh)",
                "body": zh_body if zh_body is not None else body,
            },
            "en": {"title": title, "body": body},
        },
        "media": [{"kind": "image", "uri": "https://cdn.bank.example/banner.png", "alt": title}],
        "deep_link": "mbank://wealth/home",
    }


@pytest.fixture(params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated content database: SQLite, and PostgreSQL under `make test-postgres`."""
    with fresh_database_url(request.param, tmp_path, service="content") as url:
        engine = make_engine(url)
        migrate(engine, "content")
        try:
            yield engine
        finally:
            engine.dispose()


def published_item(
    engine: Engine,
    item_id: str,
    variants: dict[str, Any],
    *,
    type: str = "banner",
    fallback: bool = True,
    author: Actor = AUTHOR,
    reviewer: Actor = REVIEWER,
) -> None:
    """Create, submit, approve and publish an item through the business functions."""
    catalogue.create_item(
        engine=engine,
        actor=author,
        item_id=item_id,
        type=type,
        product_category="",
        standard_fallback=fallback,
        variants=variants,
    )
    review.submit_item(engine=engine, actor=author, item_id=item_id)
    review.approve_item(engine=engine, actor=reviewer, item_id=item_id, overrides={})
    review.publish_item(engine=engine, actor=author, item_id=item_id)


def pb_actor(actor: Actor) -> pb.Actor:
    return pb.Actor(operator_id=actor.operator_id, role=actor.role, branch=actor.branch)


def pb_variants(variants: dict[str, Any]) -> list[pb.Variant]:
    return variants_to_pb(variants)


async def publish_via_grpc(
    stub: content_pb2_grpc.ContentServiceStub,
    item_id: str,
    variants: dict[str, Any],
    *,
    type: str = "banner",
    category: str = "",
) -> pb.Item:
    """Create, submit, approve (another operator) and publish an item through the API."""
    await stub.CreateItem(
        pb.CreateItemRequest(
            actor=pb_actor(AUTHOR),
            item_id=item_id,
            type=type,
            product_category=category,
            standard_fallback=True,
            variants=pb_variants(variants),
        ),
        timeout=5,
    )
    await stub.SubmitItem(pb.SubmitItemRequest(actor=pb_actor(AUTHOR), item_id=item_id), timeout=5)
    await stub.ApproveItem(pb.ApproveItemRequest(actor=pb_actor(REVIEWER), item_id=item_id), timeout=5)
    resp = await stub.PublishItem(pb.PublishItemRequest(actor=pb_actor(AUTHOR), item_id=item_id), timeout=5)
    return resp.item


APP_SECRET = "mbank-test-client-secret-0123456789abcdef"


@dataclass
class Desk:
    http: httpx.AsyncClient
    issuer: TokenIssuer
    elderly_customer: str

    def ops(self, operator_id: str, role: str, branch: str | None = None) -> dict[str, str]:
        claims = {"role": role} | ({"branch": branch} if branch else {})
        return {"Authorization": f"Bearer {self.issuer.token(aud='lattice-ops', sub=operator_id, **claims)}"}

    def customer(self, customer_id: str, *, app: str = "mbank", acr: str = "2") -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.issuer.token(aud=app, sub=customer_id, acr=acr, scope='content')}"
        }


async def _sign_in_elderly_customer(channel) -> str:
    registry = identity_pb2_grpc.RegistryServiceStub(channel)
    customers = identity_pb2_grpc.CustomerServiceStub(channel)
    app = ipb.App(
        app_id="mbank",
        name="Mobile Banking",
        role=ipb.APP_ROLE_CORE,
        legal_entity="Lattice Bank",
        editions=["standard", "elderly"],
    )
    await registry.RegisterApp(ipb.RegisterAppRequest(app=app, client_secret=APP_SECRET), timeout=5)
    assertion = app_assertion(
        app_id="mbank",
        client_secret=APP_SECRET,
        app_user_id="m-1",
        assurance_level=2,
        branch="shenzhen",
        editions=["elderly"],
    )
    token = await customers.SignIn(ipb.SignInRequest(app_id="mbank", assertion=assertion), timeout=5)
    return jwt.decode(token.access_token, options={"verify_signature": False})["sub"]


@pytest.fixture
async def desk(tmp_path: Path, nats_url: str) -> AsyncIterator[Desk]:
    async with (
        serve("identity", identity_wire, tmp_path=tmp_path, nats_url=nats_url, environment="test") as (
            idn,
            id_channel,
        ),
        serve("content", content_wire, tmp_path=tmp_path, nats_url=nats_url) as (content, _),
    ):
        customer_id = await _sign_in_elderly_customer(id_channel)
        async with running_gateway(
            tmp_path,
            nats_url,
            identity_addr=f"127.0.0.1:{idn.port}",
            content_addr=f"127.0.0.1:{content.port}",
        ) as gw:
            gw_typed: EdgeGateway = gw
            async with httpx.AsyncClient(base_url=gw_typed.url, timeout=10) as http:
                yield Desk(http, gw_typed.issuer, customer_id)
