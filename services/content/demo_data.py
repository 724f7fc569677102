"""Demo data of content: slots in mbank and life, reviewed items in several editions, placements.

Loaded through gRPC by `make run`; what exists already is left alone.
"""

from __future__ import annotations

from typing import Any

import grpc
from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc

AUTHOR = pb.Actor(operator_id="hq-operator", role="operator")
REVIEWER = pb.Actor(operator_id="hq-reviewer", role="reviewer")
SHANGHAI = pb.Actor(operator_id="sh-operator", role="operator", branch="shanghai")
SLOTS = [("mbank", "home/top-banner"), ("mbank", "wealth/featured"), ("life", "home/feed")]
DISCLOSURE_ZH, DISCLOSURE_EN = (
    "理财非存款，产品有风险，投资须谨慎。",
    "Not a deposit. Investment involves risk.",
)


def _variant(edition: str, zh: tuple[str, str], en: tuple[str, str], link: str) -> pb.Variant:
    return pb.Variant(
        edition=edition,
        texts=[
            pb.LocalizedText(locale="zh-Hans", title=zh[0], body=zh[1]),
            pb.LocalizedText(locale="en", title=en[0], body=en[1]),
        ],
        media=[pb.MediaRef(kind="image", uri=f"https://cdn.bank.example/demo/{edition}.png", alt=en[0])],
        deep_link=link,
    )


ITEMS: list[dict[str, Any]] = [
    {
        "item_id": "spring-savings",
        "type": "banner",
        "variants": [
            _variant(
                "standard",
                ("春季存款计划", "每月存一点"),
                ("Spring savings", "Save a little every month"),
                "mbank://savings/spring",
            ),
            _variant(
                "elderly",
                ("春季存款计划（大字版）", "到网点或致电客服"),
                ("Spring savings (large print)", "Visit a branch or call us"),
                "mbank://savings/spring?assist=1",
            ),
        ],
    },
    {
        "item_id": "balanced-fund",
        "type": "product_card",
        "category": "wealth",
        "variants": [
            _variant(
                "standard",
                ("稳健配置基金", f"分散投资。{DISCLOSURE_ZH}"),
                ("Balanced fund", f"A diversified portfolio. {DISCLOSURE_EN}"),
                "mbank://wealth/fund/bal-01",
            ),
        ],
    },
    {
        "item_id": "welcome-notice",
        "type": "notice",
        "variants": [
            _variant(
                "standard",
                ("{{name}}，欢迎回来", "您的权益已同步到所有应用。"),
                ("Welcome back, {{name}}", "Your benefits now follow you in every app."),
                "life://wallet",
            ),
        ],
    },
]
PLACEMENTS = [
    pb.Placement(
        placement_id="demo-top-banner",
        slot_key="mbank/home/top-banner",
        item_id="spring-savings",
        priority=10,
        weight=1,
    ),
    pb.Placement(
        placement_id="demo-fund",
        slot_key="mbank/wealth/featured",
        item_id="balanced-fund",
        priority=5,
        weight=1,
        targeting=pb.Targeting(min_assurance_level=2),
    ),
    pb.Placement(
        placement_id="demo-life-welcome",
        slot_key="life/home/feed",
        item_id="welcome-notice",
        priority=1,
        weight=1,
        cap_per_day=3,
    ),
]
BRANCH_PLACEMENT = pb.Placement(
    placement_id="demo-shanghai-banner",
    slot_key="mbank/home/top-banner",
    item_id="balanced-fund",
    priority=20,
    weight=1,
    cap_per_day=2,
    schedule=pb.Schedule(daily_start="09:00", daily_end="18:00"),
)


async def _created(call) -> bool:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
            return False
        raise
    return True


async def load(channel: grpc.aio.Channel) -> None:
    """Create what is missing; new items go through review and publishing like any other."""
    stub = content_pb2_grpc.ContentServiceStub(channel)
    for app_id, position in SLOTS:
        await _created(
            stub.CreateSlot(
                pb.CreateSlotRequest(actor=AUTHOR, slot=pb.Slot(app_id=app_id, position=position))
            )
        )
    for spec in ITEMS:
        request = pb.CreateItemRequest(
            actor=AUTHOR,
            item_id=spec["item_id"],
            type=spec["type"],
            product_category=spec.get("category", ""),
            standard_fallback=True,
            variants=spec["variants"],
        )
        if await _created(stub.CreateItem(request)):
            item_id = spec["item_id"]
            await stub.SubmitItem(pb.SubmitItemRequest(actor=AUTHOR, item_id=item_id, reason="demo data"))
            await stub.ApproveItem(pb.ApproveItemRequest(actor=REVIEWER, item_id=item_id))
            await stub.PublishItem(pb.PublishItemRequest(actor=AUTHOR, item_id=item_id, reason="demo data"))
    for placement in PLACEMENTS:
        await _created(stub.CreatePlacement(pb.CreatePlacementRequest(actor=AUTHOR, placement=placement)))
    await _created(
        stub.CreatePlacement(pb.CreatePlacementRequest(actor=SHANGHAI, placement=BRANCH_PLACEMENT))
    )
