"""Demo strategies: a salary-day offer to the inbox and a transactional new-device alert."""

from __future__ import annotations

import grpc
from lattice.reach.v1 import reach_pb2 as pb
from lattice.reach.v1 import reach_pb2_grpc

AUTHOR = pb.Actor(operator_id="hq-operator")
REVIEWER = pb.Actor(operator_id="hq-reviewer")

DEMO_STRATEGIES = [
    pb.StrategySpec(
        name="Salary day: grow it in a deposit",
        purpose="offers",
        control_share_bp=1000,
        touchpoints=[pb.Touchpoint(channel="push"), pb.Touchpoint(channel="inbox")],
        content=pb.MessageContent(
            title="Your salary of ${amount} has arrived",
            body="Put part of it in a 3-month deposit at a better rate.",
        ),
        deep_link="mbank://deposits/3m",
        trigger=pb.Trigger(
            event_type="salary_credited",
            predicates=[pb.Predicate(field="properties.amount", op="gte", values=["3000"])],
        ),
        goal_event_type="deposit_opened",
    ),
    pb.StrategySpec(
        name="Security: sign-in from a new device",
        kind="transactional",
        purpose="security",
        touchpoints=[pb.Touchpoint(channel="sms"), pb.Touchpoint(channel="inbox")],
        content=pb.MessageContent(title="New sign-in", body="Your account was opened on a new device."),
        trigger=pb.Trigger(event_type="new_device_login"),
        validity_s=3600,
    ),
]


async def load(channel: grpc.aio.Channel) -> None:
    stub = reach_pb2_grpc.ReachServiceStub(channel)
    existing = await stub.ListStrategies(pb.ListStrategiesRequest(actor=AUTHOR, page_size=100))
    names = {s.spec.name for s in existing.strategies}
    for spec in DEMO_STRATEGIES:
        if spec.name in names:
            continue
        created = await stub.CreateStrategy(pb.CreateStrategyRequest(actor=AUTHOR, spec=spec))
        change = pb.ApproveStrategyRequest(actor=REVIEWER, strategy_id=created.strategy.strategy_id)
        await stub.ApproveStrategy(change)
        await stub.ActivateStrategy(pb.ActivateStrategyRequest(actor=AUTHOR, strategy_id=change.strategy_id))
