"""Reach scenarios: behaviour events through the gateway onto JetStream and through trigger matching
and delivery, with 10, 100 and 1,000 active strategies (the reach process's CPU per event should stay
flat: matching is indexed by event type). Each request is a batch of 10 events of the one type that
a single strategy of the set listens to; the others listen to other types.
"""

from __future__ import annotations

import json
from typing import Any

from lattice.identity.v1 import identity_pb2 as ipb
from lattice.identity.v1 import identity_pb2_grpc
from lattice.reach.v1 import reach_pb2 as pb
from lattice.reach.v1 import reach_pb2_grpc

from services.identity import demo_data
from services.identity.app_client import app_assertion
from tools.bench.scenario import BenchContext, Request, RequestFactory, Scenario

CUSTOMERS = 50
BATCH = 10
AUTHOR = pb.Actor(operator_id="bench-author")
REVIEWER = pb.Actor(operator_id="bench-reviewer")


def _spec(name: str, event_type: str) -> pb.StrategySpec:
    return pb.StrategySpec(
        name=name,
        purpose="offers",
        touchpoints=[pb.Touchpoint(channel="inbox")],
        content=pb.MessageContent(title="Bench offer", body="A better deposit rate this week."),
        trigger=pb.Trigger(event_type=event_type),
        validity_s=3600,
    )


async def active_strategies(ctx: BenchContext, count: int) -> str:
    """`count` active strategies (one in a smoke run); one of them listens to the returned event type."""
    hit = f"bench_hit_{count}"
    channel = ctx.channel("reach", default_timeout_s=30)
    stub = reach_pb2_grpc.ReachServiceStub(channel)
    try:
        for k in range(ctx.size(count)):
            event_type = hit if k == 0 else f"bench_other_{count}_{k}"
            made = await stub.CreateStrategy(
                pb.CreateStrategyRequest(actor=AUTHOR, spec=_spec(f"bench {count} #{k}", event_type))
            )
            change = pb.ApproveStrategyRequest(actor=REVIEWER, strategy_id=made.strategy.strategy_id)
            await stub.ApproveStrategy(change)
            await stub.ActivateStrategy(
                pb.ActivateStrategyRequest(actor=AUTHOR, strategy_id=change.strategy_id)
            )
    finally:
        await channel.close()
    return hit


async def customer_tokens(ctx: BenchContext, group: str) -> list[str]:
    channel = ctx.channel("identity")
    stub = identity_pb2_grpc.CustomerServiceStub(channel)
    secret = demo_data.DEMO_APP_SECRETS["mbank"]
    try:
        tokens = []
        for i in range(ctx.size(CUSTOMERS)):
            assertion = app_assertion(
                app_id="mbank",
                client_secret=secret,
                app_user_id=f"bench-reach-{group}-{i}",
                assurance_level=2,
            )
            tokens.append(
                (await stub.SignIn(ipb.SignInRequest(app_id="mbank", assertion=assertion))).access_token
            )
        return tokens
    finally:
        await channel.close()


def _setup(count: int):
    async def setup(ctx: BenchContext) -> dict[str, Any]:
        return {
            "event_type": await active_strategies(ctx, count),
            "tokens": await customer_tokens(ctx, str(count)),
        }

    return setup


def events(params: dict[str, Any]) -> RequestFactory:
    tokens, event_type = params["tokens"], params["event_type"]

    def factory(i: int) -> Request:
        batch = [{"event_id": f"{event_type}-{i}-{j}", "type": event_type} for j in range(BATCH)]
        body = json.dumps({"events": batch}, separators=(",", ":")).encode()
        headers = {"authorization": f"Bearer {tokens[i % len(tokens)]}", "content-type": "application/json"}
        return Request("POST", "/v1/apps/mbank/events", headers, body, (202,))

    return factory


SCENARIOS = [
    Scenario(
        f"reach.events_{n}", f"a batch of {BATCH} behaviour events, {n} active strategies", events, _setup(n)
    )
    for n in (10, 100, 1000)
]
