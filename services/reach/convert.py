"""protobuf <-> reach domain, through the one mapping (services/runtime/proto_mapping.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lattice.reach.v1 import reach_pb2 as pb

from services.reach.models import PolicyProposal, Strategy, StrategyRevision
from services.reach.policy import DeliveryPolicy
from services.reach.revisions import writers
from services.reach.spec import StrategySpec
from services.reach.strategies import Actor
from services.runtime.errors import InvalidInput
from services.runtime.proto_mapping import from_proto, proto_data, to_proto

# Left out of the spec when zero, so the spec's own default applies (proto3 cannot send "unset").
_DEFAULTED = ("kind", "purpose", "validity_s", "conversion_window_s")


def actor_from_pb(actor: pb.Actor) -> Actor:
    if not actor.operator_id:
        raise InvalidInput("actor_required", "the acting operator is required")
    return from_proto(Actor, actor)


def spec_from_pb(spec: pb.StrategySpec) -> dict[str, Any]:
    """A plain dict for validation (proto3 defaults become the spec's defaults)."""
    data = proto_data(StrategySpec, spec)
    for name in _DEFAULTED:
        if not data[name]:
            del data[name]
    schedule = data["schedule"]
    if schedule is not None and schedule["start_at"] is None:
        data["schedule"] = {}  # validation names the missing start
    return data


def spec_to_pb(data: dict[str, Any]) -> pb.StrategySpec:
    """The stored spec (JSON, where the schedule's start is an ISO string) as the message."""
    schedule = data.get("schedule")
    if schedule:
        schedule = {**schedule, "start_at": datetime.fromisoformat(schedule["start_at"])}
    return to_proto(pb.StrategySpec, data, schedule=schedule or None)


def strategy_to_pb(strategy: Strategy) -> pb.Strategy:
    return to_proto(pb.Strategy, strategy, spec=spec_to_pb(strategy.spec), edited_by=writers(strategy))


def revision_to_pb(r: StrategyRevision) -> pb.StrategyRevision:
    return to_proto(pb.StrategyRevision, r, spec=spec_to_pb(r.spec))


def proposal_to_pb(p: PolicyProposal) -> pb.PolicyProposal:
    # the stored policy is a dict: read as the policy, whose defaults fill what an older one lacks
    return to_proto(pb.PolicyProposal, p, policy=DeliveryPolicy.model_validate(p.policy))


def policy_from_pb(policy: pb.DeliveryPolicy) -> dict[str, Any]:
    return proto_data(DeliveryPolicy, policy)
