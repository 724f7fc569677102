"""protobuf <-> reach domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from lattice.reach.v1 import reach_pb2 as pb

from services.reach.models import (
    ContactPreference,
    Delivery,
    InboxMessage,
    PolicyProposal,
    Strategy,
    StrategyRevision,
)
from services.reach.policy import DeliveryPolicy
from services.reach.strategies import Actor
from services.runtime.clock import from_timestamp, to_timestamp
from services.runtime.errors import InvalidInput


def _at(value: datetime | None) -> Timestamp | None:
    """A set Timestamp, or None so the field stays unset (never 1970-01-01)."""
    return None if value is None else to_timestamp(value)


def actor_from_pb(actor: pb.Actor) -> Actor:
    if not actor.operator_id:
        raise InvalidInput("actor_required", "the acting operator is required")
    return Actor(operator_id=actor.operator_id, branch=actor.branch or None)


def _predicates(items: Any) -> list[dict[str, Any]]:
    return [{"field": p.field, "op": p.op, "values": list(p.values)} for p in items]


def spec_from_pb(spec: pb.StrategySpec) -> dict[str, Any]:
    """A plain dict for validation (proto3 defaults become the spec's defaults)."""
    data: dict[str, Any] = {
        "name": spec.name,
        "segment": _predicates(spec.segment),
        "control_share_bp": spec.control_share_bp,
        "touchpoints": [
            {"channel": t.channel, "app_id": t.app_id, "partner_id": t.partner_id} for t in spec.touchpoints
        ],
        "content": {
            "content_item_id": spec.content.content_item_id,
            "title": spec.content.title,
            "body": spec.content.body,
            "variables": dict(spec.content.variables),
            "locale": spec.content.locale,
        },
        "deep_link": spec.deep_link,
        "benefit_id": spec.benefit_id,
        "goal_event_type": spec.goal_event_type,
        "min_interval_s": spec.min_interval_s,
    }
    for name in ("kind", "purpose", "validity_s", "conversion_window_s"):
        if getattr(spec, name):
            data[name] = getattr(spec, name)
    if spec.HasField("trigger"):
        data["trigger"] = {
            "event_type": spec.trigger.event_type,
            "predicates": _predicates(spec.trigger.predicates),
            "delay_s": spec.trigger.delay_s,
        }
    if spec.HasField("schedule"):
        start = from_timestamp(spec.schedule.start_at)
        data["schedule"] = {"start_at": start, "every_s": spec.schedule.every_s} if start else {}
    return data


def _predicates_pb(items: list[dict[str, Any]]) -> list[pb.Predicate]:
    return [pb.Predicate(field=p["field"], op=p["op"], values=p["values"]) for p in items]


def spec_to_pb(data: dict[str, Any]) -> pb.StrategySpec:
    content = data["content"]
    spec = pb.StrategySpec(
        name=data["name"],
        kind=data["kind"],
        purpose=data["purpose"],
        segment=_predicates_pb(data["segment"]),
        control_share_bp=data["control_share_bp"],
        touchpoints=[pb.Touchpoint(**t) for t in data["touchpoints"]],
        content=pb.MessageContent(
            content_item_id=content["content_item_id"],
            title=content["title"],
            body=content["body"],
            variables=content["variables"],
            locale=content["locale"],
        ),
        deep_link=data["deep_link"],
        benefit_id=data["benefit_id"],
        validity_s=data["validity_s"],
        goal_event_type=data["goal_event_type"],
        conversion_window_s=data["conversion_window_s"],
        min_interval_s=data["min_interval_s"],
    )
    if data.get("trigger"):
        t = data["trigger"]
        spec.trigger.CopyFrom(
            pb.Trigger(
                event_type=t["event_type"], predicates=_predicates_pb(t["predicates"]), delay_s=t["delay_s"]
            )
        )
    if data.get("schedule"):
        s = data["schedule"]
        spec.schedule.CopyFrom(
            pb.Schedule(start_at=to_timestamp(datetime.fromisoformat(s["start_at"])), every_s=s["every_s"])
        )
    return spec


def strategy_to_pb(strategy: Strategy) -> pb.Strategy:
    return pb.Strategy(
        strategy_id=strategy.strategy_id,
        spec=spec_to_pb(strategy.spec),
        status=strategy.status,
        branch=strategy.branch or "",
        created_by=strategy.created_by,
        approved_by=strategy.approved_by or "",
        created_at=_at(strategy.created_at),
        updated_at=_at(strategy.updated_at),
        version=strategy.version,
        revision=strategy.revision,
        edited_by=list(strategy.edited_by) or [strategy.created_by],
    )


def revision_to_pb(r: StrategyRevision) -> pb.StrategyRevision:
    return pb.StrategyRevision(
        revision=r.revision,
        spec=spec_to_pb(r.spec),
        authored_by=r.authored_by,
        edited_by=list(r.edited_by),
        approved_by=r.approved_by or "",
        approved_at=_at(r.approved_at),
        created_at=_at(r.created_at),
        updated_at=_at(r.updated_at),
        rejected_by=r.rejected_by or "",
        rejected_at=_at(r.rejected_at),
        rejection_reason=r.rejection_reason,
    )


def delivery_to_pb(d: Delivery) -> pb.Delivery:
    return pb.Delivery(
        delivery_id=d.delivery_id,
        strategy_id=d.strategy_id,
        channel=d.channel,
        status=d.status,
        reason=d.reason,
        control=d.control,
        created_at=_at(d.created_at),
        not_before=_at(d.not_before),
        delivered_at=_at(d.delivered_at),
        opened_at=_at(d.opened_at),
        action_state=d.action_state,
    )


def inbox_to_pb(m: InboxMessage) -> pb.InboxMessage:
    return pb.InboxMessage(
        message_id=m.message_id,
        app_id=m.app_id,
        title=m.title,
        body=m.body,
        deep_link=m.deep_link,
        created_at=_at(m.created_at),
        read_at=_at(m.read_at),
        expires_at=_at(m.expires_at),
    )


def preference_to_pb(p: ContactPreference) -> pb.ContactPreference:
    return pb.ContactPreference(
        channel=p.channel, purpose=p.purpose, opted_in=p.opted_in, updated_at=_at(p.updated_at)
    )


def policy_to_pb(policy: DeliveryPolicy) -> pb.DeliveryPolicy:
    return pb.DeliveryPolicy(
        channels=[pb.ChannelRule(**r.model_dump()) for r in policy.channels],
        daily_contact_budget=policy.daily_contact_budget,
        quiet_start=policy.quiet_start,
        quiet_end=policy.quiet_end,
        quiet_channels=list(policy.quiet_channels),
        default_time_zone=policy.default_time_zone,
    )


def proposal_to_pb(p: PolicyProposal) -> pb.PolicyProposal:
    return pb.PolicyProposal(
        proposal_id=p.proposal_id,
        policy=policy_to_pb(DeliveryPolicy.model_validate(p.policy)),
        proposed_by=p.proposed_by,
        status=p.status,
        decided_by=p.decided_by or "",
        created_at=_at(p.created_at),
        decided_at=_at(p.decided_at),
    )


def policy_from_pb(policy: pb.DeliveryPolicy) -> dict[str, Any]:
    return {
        "channels": [
            {"channel": r.channel, "daily_cap": r.daily_cap, "rate_per_second": r.rate_per_second}
            for r in policy.channels
        ],
        "daily_contact_budget": policy.daily_contact_budget,
        "quiet_start": policy.quiet_start,
        "quiet_end": policy.quiet_end,
        "quiet_channels": list(policy.quiet_channels),
        "default_time_zone": policy.default_time_zone,
    }
