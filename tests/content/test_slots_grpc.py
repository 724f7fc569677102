"""Operator scope over placements, and cache invalidation across replicas through content events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc

from services.content.__main__ import wire
from services.runtime.grpc_client import reason_of
from tests.content.conftest import (
    AUTHOR,
    BRANCH_GZ,
    BRANCH_SZ,
    REVIEWER,
    pb_actor,
    pb_variants,
    publish_via_grpc,
    texts,
)
from tests.support.inprocess import serve

SLOT = "mbank/home/top-banner"


async def _slot_with_item(stub: content_pb2_grpc.ContentServiceStub) -> None:
    await publish_via_grpc(stub, "promo", {"standard": texts("Promo v1")})
    await stub.CreateSlot(
        pb.CreateSlotRequest(
            actor=pb_actor(AUTHOR), slot=pb.Slot(app_id="mbank", position="home/top-banner")
        ),
        timeout=5,
    )


def _placement(placement_id: str, **kwargs) -> pb.Placement:
    return pb.Placement(placement_id=placement_id, slot_key=SLOT, item_id="promo", **kwargs)


async def _denied(call) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    return reason_of(err.value)


async def _absent(call) -> str:
    """Outside a branch's scope an object does not exist for it."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    return reason_of(err.value)


async def test_branch_operator_changes_only_its_own_branch_placements(tmp_path: Path, nats_url: str) -> None:
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = content_pb2_grpc.ContentServiceStub(channel)
        await _slot_with_item(stub)
        hq = await stub.CreatePlacement(
            pb.CreatePlacementRequest(
                actor=pb_actor(AUTHOR),
                placement=_placement("p-hq", targeting=pb.Targeting(branches=["shenzhen"])),
            ),
            timeout=5,
        )
        assert hq.placement.owner_branch == ""
        sz = await stub.CreatePlacement(
            pb.CreatePlacementRequest(actor=pb_actor(BRANCH_SZ), placement=_placement("p-sz", priority=3)),
            timeout=5,
        )
        assert (sz.placement.owner_branch, list(sz.placement.targeting.branches)) == (
            "shenzhen",
            ["shenzhen"],
        )
        gz = await stub.CreatePlacement(
            pb.CreatePlacementRequest(actor=pb_actor(BRANCH_GZ), placement=_placement("p-gz")), timeout=5
        )

        assert (
            await _absent(
                stub.UpdatePlacement(
                    pb.UpdatePlacementRequest(
                        actor=pb_actor(BRANCH_SZ), placement=_placement("p-hq", priority=9)
                    ),
                    timeout=5,
                )
            )
            == "placement_not_found"
        )
        assert (
            await _absent(
                stub.UpdatePlacement(
                    pb.UpdatePlacementRequest(
                        actor=pb_actor(BRANCH_SZ), placement=_placement("p-gz", priority=9)
                    ),
                    timeout=5,
                )
            )
            == "placement_not_found"
        )
        assert (
            await _absent(
                stub.RemovePlacement(
                    pb.RemovePlacementRequest(
                        actor=pb_actor(BRANCH_SZ), placement_id=gz.placement.placement_id
                    ),
                    timeout=5,
                )
            )
            == "placement_not_found"
        )
        assert (
            await _denied(
                stub.CreatePlacement(
                    pb.CreatePlacementRequest(
                        actor=pb_actor(BRANCH_SZ),
                        placement=_placement("p-wide", targeting=pb.Targeting(branches=["guangzhou"])),
                    ),
                    timeout=5,
                )
            )
            == "outside_branch_scope"
        )
        assert (
            await _denied(
                stub.CreateSlot(
                    pb.CreateSlotRequest(
                        actor=pb_actor(BRANCH_SZ), slot=pb.Slot(app_id="mbank", position="home/b")
                    ),
                    timeout=5,
                )
            )
            == "head_office_only"
        )

        own = await stub.UpdatePlacement(
            pb.UpdatePlacementRequest(actor=pb_actor(BRANCH_SZ), placement=_placement("p-sz", priority=7)),
            timeout=5,
        )
        assert own.placement.priority == 7
        hq_changed = await stub.UpdatePlacement(
            pb.UpdatePlacementRequest(
                actor=pb_actor(REVIEWER),
                placement=_placement("p-gz", priority=1, targeting=pb.Targeting(branches=["guangzhou"])),
            ),
            timeout=5,
        )
        assert hq_changed.placement.priority == 1
        listed = await stub.ListPlacements(
            pb.ListPlacementsRequest(actor=pb_actor(REVIEWER), slot_key=SLOT), timeout=5
        )
        assert {(p.placement_id, p.priority) for p in listed.placements} == {
            ("p-sz", 7),
            ("p-hq", 0),
            ("p-gz", 1),
        }


async def test_every_replica_drops_its_snapshot_on_publish_and_placement_events(
    tmp_path: Path, nats_url: str
) -> None:
    async with (
        serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_a, channel_a),
        serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_b, channel_b),
    ):
        a, b = content_pb2_grpc.ContentServiceStub(channel_a), content_pb2_grpc.ContentServiceStub(channel_b)
        await _slot_with_item(a)
        await a.CreatePlacement(
            pb.CreatePlacementRequest(actor=pb_actor(AUTHOR), placement=_placement("p1")), timeout=5
        )
        viewer = pb.Viewer(customer_id="cust-1")

        async def title_on_b() -> str:
            resp = await b.ServeSlot(
                pb.ServeSlotRequest(slot_key=SLOT, viewer=viewer, locales=["en"]), timeout=5
            )
            return resp.item.title if resp.served else ""

        async def eventually_on_b(expected: str) -> None:
            deadline = time.monotonic() + 10
            while (seen := await title_on_b()) != expected:
                assert time.monotonic() < deadline, f"replica b still serves {seen!r}"
                await asyncio.sleep(0.05)

        await eventually_on_b("Promo v1")  # b now holds a snapshot of the slot
        await a.EditItem(
            pb.EditItemRequest(
                actor=pb_actor(AUTHOR), item_id="promo", variants=pb_variants({"standard": texts("Promo v2")})
            ),
            timeout=5,
        )
        await a.SubmitItem(pb.SubmitItemRequest(actor=pb_actor(AUTHOR), item_id="promo"), timeout=5)
        await a.ApproveItem(pb.ApproveItemRequest(actor=pb_actor(REVIEWER), item_id="promo"), timeout=5)
        await a.PublishItem(pb.PublishItemRequest(actor=pb_actor(AUTHOR), item_id="promo"), timeout=5)
        await eventually_on_b("Promo v2")
        await a.RemovePlacement(
            pb.RemovePlacementRequest(actor=pb_actor(AUTHOR), placement_id="p1"), timeout=5
        )
        await eventually_on_b("")


async def test_caps_hold_through_the_api_for_branch_aimed_and_general_placements(
    tmp_path: Path, nats_url: str
) -> None:
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = content_pb2_grpc.ContentServiceStub(channel)
        await _slot_with_item(stub)
        await publish_via_grpc(stub, "backup", {"standard": texts("Backup")})
        placements = [
            (
                BRANCH_SZ,
                pb.Placement(placement_id="p-sz", slot_key=SLOT, item_id="promo", priority=9, cap_per_day=2),
            ),
            (
                AUTHOR,
                pb.Placement(placement_id="p-all", slot_key=SLOT, item_id="promo", priority=5, cap_per_day=1),
            ),
            (AUTHOR, pb.Placement(placement_id="p-backup", slot_key=SLOT, item_id="backup", priority=0)),
        ]
        for operator, placement in placements:
            await stub.CreatePlacement(
                pb.CreatePlacementRequest(actor=pb_actor(operator), placement=placement), timeout=5
            )

        async def served(branch: str) -> list[str]:
            viewer = pb.Viewer(customer_id=f"cust-{branch}", branch=branch)
            request = pb.ServeSlotRequest(slot_key=SLOT, viewer=viewer)
            return [(await stub.ServeSlot(request, timeout=5)).placement_id for _ in range(4)]

        assert await served("shenzhen") == ["p-sz", "p-sz", "p-all", "p-backup"]
        assert await served("guangzhou") == ["p-all", "p-backup", "p-backup", "p-backup"]
