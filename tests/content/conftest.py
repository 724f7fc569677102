"""Fixtures of the content tests: a migrated SQLite database, operators and item builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc
from sqlalchemy.engine import Engine

from services.content import catalogue, review
from services.content.catalogue import Actor
from services.content.convert import variants_to_pb
from services.runtime.db import make_engine, migrate
from tests.support.databases import DATABASE_KINDS, fresh_database_url

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
    with fresh_database_url(request.param, tmp_path) as url:
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
    await stub.SubmitItem(pb.ItemActionRequest(actor=pb_actor(AUTHOR), item_id=item_id), timeout=5)
    await stub.ApproveItem(pb.ApproveItemRequest(actor=pb_actor(REVIEWER), item_id=item_id), timeout=5)
    resp = await stub.PublishItem(pb.ItemActionRequest(actor=pb_actor(AUTHOR), item_id=item_id), timeout=5)
    return resp.item
