"""The review workflow and serving through the gRPC API of a real in-process content service."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc

from services.content import demo_data
from services.content.__main__ import wire
from services.runtime.grpc_client import reason_of
from tests.content.conftest import AUTHOR, REVIEWER, pb_actor, pb_variants, publish_via_grpc, texts
from tests.support.inprocess import serve

SLOT = "mbank/home/top-banner"
VIEWER = pb.Viewer(customer_id="cust-1", edition="standard", assurance_level=2)


async def _setup_slot(stub: content_pb2_grpc.ContentServiceStub, item_id: str) -> None:
    await stub.CreateSlot(
        pb.CreateSlotRequest(
            actor=pb_actor(AUTHOR), slot=pb.Slot(app_id="mbank", position="home/top-banner")
        ),
        timeout=5,
    )
    await stub.CreatePlacement(
        pb.CreatePlacementRequest(
            actor=pb_actor(AUTHOR),
            placement=pb.Placement(placement_id="p-main", slot_key=SLOT, item_id=item_id),
        ),
        timeout=5,
    )


async def _served_title(stub: content_pb2_grpc.ContentServiceStub) -> str:
    resp = await stub.ServeSlot(pb.ServeSlotRequest(slot_key=SLOT, viewer=VIEWER, locales=["en"]), timeout=5)
    return resp.item.title if resp.served else ""


async def test_author_cannot_approve_own_item(tmp_path: Path, nats_url: str) -> None:
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = content_pb2_grpc.ContentServiceStub(channel)
        await stub.CreateItem(
            pb.CreateItemRequest(
                actor=pb_actor(AUTHOR),
                item_id="own",
                type="notice",
                variants=pb_variants({"standard": texts("Notice")}),
            ),
            timeout=5,
        )
        await stub.SubmitItem(pb.SubmitItemRequest(actor=pb_actor(AUTHOR), item_id="own"), timeout=5)
        author_as_reviewer = pb.Actor(operator_id=AUTHOR.operator_id, role="reviewer")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ApproveItem(pb.ApproveItemRequest(actor=author_as_reviewer, item_id="own"), timeout=5)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and reason_of(err.value) == "own_work"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ApproveItem(pb.ApproveItemRequest(actor=pb_actor(AUTHOR), item_id="own"), timeout=5)
        assert reason_of(err.value) == "role_required"
        approved = await stub.ApproveItem(
            pb.ApproveItemRequest(actor=pb_actor(REVIEWER), item_id="own"), timeout=5
        )
        assert approved.item.versions[0].status == "approved"


async def test_edit_of_published_item_keeps_serving_old_version_then_rollback(
    tmp_path: Path, nats_url: str
) -> None:
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = content_pb2_grpc.ContentServiceStub(channel)
        await publish_via_grpc(stub, "promo", {"standard": texts("Promo v1")})
        await _setup_slot(stub, "promo")
        assert await _served_title(stub) == "Promo v1"

        edited = await stub.EditItem(
            pb.EditItemRequest(
                actor=pb_actor(AUTHOR),
                item_id="promo",
                variants=pb_variants({"standard": texts("Promo v2")}),
                reason="new rate",
            ),
            timeout=5,
        )
        assert [(v.version, v.status) for v in edited.item.versions] == [(1, "published"), (2, "draft")]
        assert await _served_title(stub) == "Promo v1"
        await stub.SubmitItem(pb.SubmitItemRequest(actor=pb_actor(AUTHOR), item_id="promo"), timeout=5)
        await stub.ApproveItem(pb.ApproveItemRequest(actor=pb_actor(REVIEWER), item_id="promo"), timeout=5)
        assert await _served_title(stub) == "Promo v1"
        await stub.PublishItem(pb.PublishItemRequest(actor=pb_actor(AUTHOR), item_id="promo"), timeout=5)
        assert await _served_title(stub) == "Promo v2"

        rolled = await stub.RollbackItem(
            pb.RollbackItemRequest(
                actor=pb_actor(REVIEWER), item_id="promo", version=1, reason="v2 rate was wrong"
            ),
            timeout=5,
        )
        assert rolled.item.published_version == 1
        assert await _served_title(stub) == "Promo v1"

        trail = await stub.ListAuditEntries(
            pb.ListAuditEntriesRequest(actor=pb_actor(REVIEWER), entity="item", entity_id="promo"), timeout=5
        )
        steps = [(e.action, e.version, e.actor_id) for e in trail.entries]
        assert steps == [
            ("created", 1, "op-author"),
            ("submitted", 1, "op-author"),
            ("approved", 1, "op-reviewer"),
            ("published", 1, "op-author"),
            ("edited", 2, "op-author"),
            ("submitted", 2, "op-author"),
            ("approved", 2, "op-reviewer"),
            ("published", 2, "op-author"),
            ("rolled_back", 1, "op-reviewer"),
        ]
        assert trail.entries[-1].reason == "v2 rate was wrong"
        assert json.loads(trail.entries[-1].details_json) == {"previous_version": 2}
        assert all(e.at.seconds > 0 for e in trail.entries)


async def test_guaranteed_principal_blocks_approval_naming_rule_and_text(
    tmp_path: Path, nats_url: str
) -> None:
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = content_pb2_grpc.ContentServiceStub(channel)
        variants = {
            "standard": texts(
                "Safe savings", "A guaranteed return every month", zh_body="本产品保本，稳健增值"
            )
        }
        await stub.CreateItem(
            pb.CreateItemRequest(
                actor=pb_actor(AUTHOR), item_id="safe", type="banner", variants=pb_variants(variants)
            ),
            timeout=5,
        )
        submitted = await stub.SubmitItem(
            pb.SubmitItemRequest(actor=pb_actor(AUTHOR), item_id="safe"), timeout=5
        )
        assert {(f.rule_id, f.matched_text) for f in submitted.findings} == {
            ("guaranteed_return", "guaranteed return"),
            ("guaranteed_return", "保本"),
        }
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ApproveItem(
                pb.ApproveItemRequest(
                    actor=pb_actor(REVIEWER),
                    item_id="safe",
                    overrides=[pb.ComplianceOverride(rule_id="guaranteed_return", reason="please")],
                ),
                timeout=5,
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason_of(err.value) == "compliance_violation"
        assert "guaranteed_return" in err.value.details() and "'保本'" in err.value.details()
        assert "'guaranteed return'" in err.value.details()
        item = await stub.GetItem(pb.GetItemRequest(actor=pb_actor(REVIEWER), item_id="safe"), timeout=5)
        assert item.item.versions[0].status == "in_review"
        checked = await stub.CheckItemCompliance(
            pb.CheckItemComplianceRequest(actor=pb_actor(REVIEWER), item_id="safe"), timeout=5
        )
        assert {f.field for f in checked.findings} == {
            "variants.standard.en.body",
            "variants.standard.zh-Hans.body",
        }


async def test_rendered_item_for_messages(tmp_path: Path, nats_url: str) -> None:
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = content_pb2_grpc.ContentServiceStub(channel)
        variant = texts("Hi {{name}}", "Your {{ product }} matures on {{date}}. {{name}}")
        await publish_via_grpc(
            stub, "maturity", {"standard": variant, "elderly": texts("Dear {{name}}", "Large")}
        )
        resp = await stub.GetRenderedItem(
            pb.GetRenderedItemRequest(
                item_id="maturity", edition="elderly", locale="en", variables={"name": "{{date}} <b>Li</b>"}
            ),
            timeout=5,
        )
        assert (resp.version, resp.edition, resp.title, resp.body) == (
            1,
            "elderly",
            "Dear {{date}} <b>Li</b>",
            "Large",
        )
        resp = await stub.GetRenderedItem(
            pb.GetRenderedItemRequest(
                item_id="maturity",
                edition="rural",
                locale="en",
                variables={"name": "Li", "product": "deposit", "date": "1 Dec"},
            ),
            timeout=5,
        )
        assert (resp.edition, resp.body) == ("standard", "Your deposit matures on 1 Dec. Li")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetRenderedItem(
                pb.GetRenderedItemRequest(item_id="maturity", variables={"name": "Li"}), timeout=5
            )
        assert (
            err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            and reason_of(err.value) == "missing_variable"
        )
        await stub.CreateItem(
            pb.CreateItemRequest(
                actor=pb_actor(AUTHOR),
                item_id="draft-only",
                type="notice",
                variants=pb_variants({"standard": texts("Draft")}),
            ),
            timeout=5,
        )
        for item_id in ("draft-only", "no-such-item"):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetRenderedItem(pb.GetRenderedItemRequest(item_id=item_id), timeout=5)
            assert (
                err.value.code() == grpc.StatusCode.NOT_FOUND and reason_of(err.value) == "item_not_published"
            )


async def test_demo_data_loads_twice_and_serves(tmp_path: Path, nats_url: str) -> None:
    async with serve("content", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        await demo_data.load(channel)
        await demo_data.load(channel)
        stub = content_pb2_grpc.ContentServiceStub(channel)
        elderly = pb.Viewer(customer_id="cust-9", edition="elderly", branch="beijing")
        resp = await stub.ServeSlot(
            pb.ServeSlotRequest(slot_key=SLOT, viewer=elderly, locales=["zh-CN"]), timeout=5
        )
        assert (resp.placement_id, resp.item.title) == ("demo-top-banner", "春季存款计划（大字版）")
        rendered = await stub.GetRenderedItem(
            pb.GetRenderedItemRequest(item_id="welcome-notice", locale="en", variables={"name": "Li"}),
            timeout=5,
        )
        assert rendered.title == "Welcome back, Li"
