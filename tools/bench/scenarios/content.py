"""Content scenarios: slot serving through the gateway for signed-in customers, with 10, 10^3 and 10^5
placements in the served slot (latency should stay flat), and with a frequency cap (a counted write).

The served slot holds five head-office placements for everyone; the rest of the catalogue is aimed at
200 other branches and several editions, so serving must find the customer's candidates without
scanning the others.
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc
from lattice.identity.v1 import identity_pb2 as ipb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity import demo_data
from services.identity.app_client import app_assertion
from services.runtime.editions import EDITIONS
from tools.bench.scenario import BenchContext, Request, RequestFactory, Scenario

CUSTOMERS = 200
HEAD_OFFICE_PLACEMENTS = 5
AUTHOR = pb.Actor(operator_id="bench-author", role="operator")
REVIEWER = pb.Actor(operator_id="bench-reviewer", role="reviewer")


async def _customer_tokens(ctx: BenchContext, group: str) -> list[str]:
    """Access tokens of signed-in mbank customers (own ones per scenario: rate limits are per customer).

    Signed in afresh on each system: a token of an earlier system (the 1-worker run before the
    scaling run, or before the soak) is refused by this one's gateway with 401."""
    channel = ctx.channel("identity")
    stub = identity_pb2_grpc.CustomerServiceStub(channel)
    secret = demo_data.DEMO_APP_SECRETS["mbank"]
    tokens = []
    try:
        for i in range(ctx.size(CUSTOMERS)):
            assertion = app_assertion(
                app_id="mbank",
                client_secret=secret,
                app_user_id=f"bench-content-{group}-{i}",
                assurance_level=2,
                branch="bench",
                editions=["standard"],
            )
            tokens.append(
                (await stub.SignIn(ipb.SignInRequest(app_id="mbank", assertion=assertion))).access_token
            )
    finally:
        await channel.close()
    return tokens


async def _ignore_exists(call) -> None:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise


async def _published_item(stub: content_pb2_grpc.ContentServiceStub, item_id: str) -> None:
    texts = [
        pb.LocalizedText(locale=loc, title=f"{item_id} {loc}", body="Save every month")
        for loc in ("zh-Hans", "en")
    ]
    variants = [pb.Variant(edition="standard", texts=texts, deep_link="mbank://savings")]
    try:
        await stub.CreateItem(
            pb.CreateItemRequest(actor=AUTHOR, item_id=item_id, type="banner", variants=variants)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
            return
        raise
    await stub.SubmitItem(pb.SubmitItemRequest(actor=AUTHOR, item_id=item_id))
    await stub.ApproveItem(pb.ApproveItemRequest(actor=REVIEWER, item_id=item_id))
    await stub.PublishItem(pb.PublishItemRequest(actor=AUTHOR, item_id=item_id))


def seed_placements(database: Path, *, slot_key: str, item_id: str, total: int) -> None:
    """Placements aimed at other branches and editions (bulk SQL: seeding, not the code under test)."""
    rng, now = random.Random(total), datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = []
    for i in range(total):
        targeting: dict[str, Any] = {
            "editions": sorted(rng.sample(EDITIONS, rng.randint(1, 3))),
            "aum_tiers": [],
            "branches": [f"br{rng.randrange(200):03d}"],
            "tags": [],
            "min_assurance_level": 0,
        }
        rows.append(
            (
                f"bench-{slot_key.rsplit('/', 1)[1]}-{i}",
                slot_key,
                item_id,
                rng.randint(0, 100),
                rng.randint(1, 5),
                json.dumps(targeting),
                targeting["branches"][0],
                now,
            )
        )
    with sqlite3.connect(database, timeout=30) as db:
        db.executemany(
            "INSERT INTO placement (placement_id, slot_key, item_id, fallback_item_id, priority, weight,"
            " starts_at, ends_at, daily_start, daily_end, targeting, cap_per_day, owner_branch, active,"
            " created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, NULL, ?, ?, NULL, NULL, '', '', ?, 0, ?, 1, 'bench-seed', ?, ?)",
            [(*row, row[-1]) for row in rows],
        )


async def _slot(ctx: BenchContext, position: str, *, placements: int, cap_per_day: int = 0) -> None:
    """A slot of mbank with five head-office placements and the rest of `placements` seeded; warmed up."""
    channel = ctx.channel("content", default_timeout_s=60)
    stub = content_pb2_grpc.ContentServiceStub(channel)
    slot_key = f"mbank/{position}"
    try:
        await _ignore_exists(
            stub.CreateSlot(
                pb.CreateSlotRequest(actor=AUTHOR, slot=pb.Slot(app_id="mbank", position=position))
            )
        )
        await _published_item(stub, "bench-banner")
        for i in range(HEAD_OFFICE_PLACEMENTS):
            placement = pb.Placement(
                placement_id=f"bench-{position.replace('/', '-')}-hq{i}",
                slot_key=slot_key,
                item_id="bench-banner",
                priority=50,
                weight=i + 1,
                cap_per_day=cap_per_day,
            )
            await _ignore_exists(
                stub.CreatePlacement(pb.CreatePlacementRequest(actor=AUTHOR, placement=placement))
            )
        seed_placements(
            ctx.var_dir / "content.db",
            slot_key=slot_key,
            item_id="bench-banner",
            total=max(ctx.size(placements, HEAD_OFFICE_PLACEMENTS) - HEAD_OFFICE_PLACEMENTS, 0),
        )
        # a placement change drops the cached snapshot; the first serve builds it outside the measurement
        placement = pb.Placement(
            placement_id=f"bench-{position.replace('/', '-')}-hq0",
            slot_key=slot_key,
            item_id="bench-banner",
            priority=50,
            weight=1,
            cap_per_day=cap_per_day,
        )
        await stub.UpdatePlacement(pb.UpdatePlacementRequest(actor=AUTHOR, placement=placement))
        viewer = pb.Viewer(customer_id="bench-warmup", branch="bench")
        served = await stub.ServeSlot(pb.ServeSlotRequest(slot_key=slot_key, viewer=viewer), timeout=60)
        assert served.served, f"{slot_key} serves nothing"
    finally:
        await channel.close()


def _setup(position: str, placements: int, *, cap_per_day: int = 0):
    async def setup(ctx: BenchContext) -> dict[str, Any]:
        tokens = await _customer_tokens(ctx, position.replace("/", "-"))
        await _slot(ctx, position, placements=placements, cap_per_day=cap_per_day)
        return {"tokens": tokens, "path": f"/v1/apps/mbank/slots/{position}"}

    return setup


def serve(params: dict[str, Any]) -> RequestFactory:
    tokens, path = params["tokens"], params["path"]
    requests = [
        Request(
            "GET", path, {"authorization": f"Bearer {t}", "accept-language": "zh-CN,en;q=0.8"}, None, (200,)
        )
        for t in tokens
    ]
    return lambda i: requests[i % len(requests)]


SCENARIOS = [
    Scenario(
        "content.serve_10",
        "signed-in customer gets a slot's item; 10 placements in the slot",
        serve,
        _setup("bench/p10", 10),
    ),
    Scenario(
        "content.serve_1k",
        "signed-in customer gets a slot's item; 10^3 placements in the slot",
        serve,
        _setup("bench/p1k", 1_000),
    ),
    Scenario(
        "content.serve_100k",
        "signed-in customer gets a slot's item; 10^5 placements in the slot",
        serve,
        _setup("bench/p100k", 100_000),
    ),
    Scenario(
        "content.serve_capped",
        "as serve_10 with a per-customer daily cap: every serve is counted",
        serve,
        _setup("bench/capped", 10, cap_per_day=100),
    ),
]
