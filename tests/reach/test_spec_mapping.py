"""A strategy spec crosses the contract through the one mapping: proto3 zeros become the spec's defaults,
and a stored spec reads back as the same spec."""

from __future__ import annotations

from typing import Any

import pytest
from lattice.reach.v1 import reach_pb2 as pb

from services.reach.convert import spec_from_pb, spec_to_pb
from services.reach.spec import parse_spec
from services.runtime.errors import InvalidInput

TRIGGERED: dict[str, Any] = {
    "name": "salary day",
    "kind": "transactional",
    "purpose": "security",
    "segment": [{"field": "branch", "op": "in", "values": ["shanghai", "beijing"]}],
    "touchpoints": [{"channel": "partner", "partner_id": "ride"}, {"channel": "inbox", "app_id": "mbank"}],
    "content": {"title": "Salary in: ${amount}", "body": "Move it", "variables": {"tone": "warm"}},
    "trigger": {
        "event_type": "salary_credited",
        "predicates": [{"field": "properties.amount", "op": "gte", "values": ["3000"]}],
        "delay_s": 60,
    },
    "validity_s": 600,
    "conversion_window_s": 86400,
    "min_interval_s": 3600,
}
SCHEDULED: dict[str, Any] = {
    "name": "monthly news",
    "touchpoints": [{"channel": "push"}],
    "content": {"content_item_id": "news-1", "locale": "zh-Hans"},
    "schedule": {"start_at": "2026-03-02T10:00:00+08:00", "every_s": 86400},
    "deep_link": "mbank://news",
    "benefit_id": "coupon-1",
    "goal_event_type": "news_read",
    "control_share_bp": 1000,
}


@pytest.mark.parametrize("spec", [TRIGGERED, SCHEDULED], ids=["triggered", "scheduled"])
def test_a_stored_spec_reads_back_the_same_through_the_message(spec: dict[str, Any]) -> None:
    parsed = parse_spec(spec)
    message = spec_to_pb(parsed.model_dump(mode="json"))
    assert message.HasField("trigger") == ("trigger" in spec)
    assert message.HasField("schedule") == ("schedule" in spec)
    assert parse_spec(spec_from_pb(message)) == parsed  # the schedule's start: the same instant, in UTC


def test_zero_kind_purpose_validity_and_window_take_the_spec_defaults() -> None:
    message = pb.StrategySpec(
        name="welcome",
        touchpoints=[pb.Touchpoint(channel="inbox")],
        content=pb.MessageContent(title="Welcome"),
        trigger=pb.Trigger(event_type="app_account_linked"),
    )
    spec = parse_spec(spec_from_pb(message))
    assert (spec.kind, spec.purpose) == ("marketing", "offers")
    assert (spec.validity_s, spec.conversion_window_s) == (3 * 86400, 7 * 86400)
    assert spec.schedule is None and spec.trigger is not None and spec.trigger.delay_s == 0


def test_a_schedule_without_a_start_is_refused_as_missing() -> None:
    message = pb.StrategySpec(
        name="news",
        touchpoints=[pb.Touchpoint(channel="inbox")],
        content=pb.MessageContent(title="News"),
        schedule=pb.Schedule(every_s=86400),
    )
    with pytest.raises(InvalidInput) as refused:
        parse_spec(spec_from_pb(message))
    assert refused.value.reason == "invalid_strategy"
    assert refused.value.detail == "schedule.start_at: Field required"
