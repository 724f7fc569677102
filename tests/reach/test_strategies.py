"""Strategy specs, lifecycle, four-eyes approval, branch scope, schedules and segment predicates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from services.reach import strategies
from services.reach.engine import ReachEngine
from services.reach.models import AudienceProfile
from services.reach.scheduler import run_due
from services.reach.segments import holds, matches
from services.reach.spec import Predicate
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.reach.conftest import AUTHOR, REVIEWER, live_strategy, local, seed_customer

SPEC = {
    "name": "welcome",
    "touchpoints": [{"channel": "inbox"}],
    "content": {"title": "Welcome", "body": "Hello"},
    "trigger": {"event_type": "identity.app_account.linked"},
}


def test_author_cannot_approve_own_strategy(reach_db: Engine) -> None:
    s = strategies.create_strategy(engine=reach_db, actor=AUTHOR, spec_data=SPEC)
    with pytest.raises(Forbidden) as err:
        strategies.change_status(engine=reach_db, actor=AUTHOR, strategy_id=s.strategy_id, action="approve")
    assert err.value.reason == "own_work"
    with pytest.raises(Conflict):
        strategies.change_status(engine=reach_db, actor=AUTHOR, strategy_id=s.strategy_id, action="activate")
    approved = strategies.change_status(
        engine=reach_db, actor=REVIEWER, strategy_id=s.strategy_id, action="approve"
    )
    assert (approved.status, approved.approved_by) == ("approved", "op-ben")


def test_editing_sends_a_strategy_back_to_draft(reach_db: Engine) -> None:
    s = strategies.create_strategy(engine=reach_db, actor=AUTHOR, spec_data=SPEC)
    strategies.change_status(engine=reach_db, actor=REVIEWER, strategy_id=s.strategy_id, action="approve")
    edited = strategies.update_strategy(
        engine=reach_db,
        actor=AUTHOR,
        strategy_id=s.strategy_id,
        spec_data={**SPEC, "name": "welcome v2"},
        expected_version=2,
    )
    assert (edited.status, edited.approved_by, edited.version) == ("draft", None, 3)
    with pytest.raises(Conflict):
        strategies.update_strategy(
            engine=reach_db, actor=AUTHOR, strategy_id=s.strategy_id, spec_data=SPEC, expected_version=2
        )


def test_branch_operator_sees_only_own_branch(reach_db: Engine) -> None:
    north = strategies.Actor(operator_id="op-north", branch="north")
    mine = strategies.create_strategy(engine=reach_db, actor=north, spec_data=SPEC)
    head = strategies.create_strategy(engine=reach_db, actor=AUTHOR, spec_data=SPEC)
    assert mine.branch == "north"
    listed = strategies.list_strategies(engine=reach_db, actor=north, limit=10)
    assert [s.strategy_id for s in listed] == [mine.strategy_id]
    with pytest.raises(NotFound):
        strategies.get_strategy(engine=reach_db, actor=north, strategy_id=head.strategy_id)
    assert len(strategies.list_strategies(engine=reach_db, actor=AUTHOR, limit=10)) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"touchpoints": []},
        {"trigger": None},
        {"schedule": {"start_at": "2026-03-02T10:00:00+08:00"}},
        {"touchpoints": [{"channel": "fax"}]},
        {"touchpoints": [{"channel": "partner"}]},
        {"content": {"title": "x", "content_item_id": "item-1"}},
        {"segment": [{"field": "phone", "op": "eq", "values": ["1"]}]},
        {"control_share_bp": 6000},
        {"kind": "transactional", "control_share_bp": 1000},
        {"surprise": 1},
    ],
)
def test_invalid_specs_are_refused(reach_db: Engine, change: dict) -> None:
    with pytest.raises(InvalidInput) as err:
        strategies.create_strategy(engine=reach_db, actor=AUTHOR, spec_data={**SPEC, **change})
    assert err.value.reason == "invalid_strategy"


async def test_branch_strategy_reaches_only_that_branch(reach: ReachEngine, reach_db: Engine) -> None:
    from services.reach import review

    now = local(2, 10)
    seed_customer(reach_db, "cust-n", now=now, branch="north")
    seed_customer(reach_db, "cust-s", now=now, branch="south")
    north = strategies.Actor(operator_id="op-north", branch="north")
    s = strategies.create_strategy(
        engine=reach_db, actor=north, spec_data={**SPEC, "trigger": {"event_type": "x_y"}}
    )
    result = review.dry_run(engine=reach_db, actor=north, strategy_id=s.strategy_id, now=now)
    assert result.audience == 1


async def test_schedule_runs_once_over_the_audience(reach: ReachEngine, reach_db: Engine) -> None:
    from services.reach import inbox

    start = local(2, 10)
    for customer in ("cust-1", "cust-2"):
        seed_customer(reach_db, customer, now=start, app_ids=("life",))
    spec = {**SPEC, "trigger": None, "schedule": {"start_at": start.isoformat(), "every_s": 0}}
    live_strategy(reach_db, **spec)
    assert await run_due(reach, now=start - timedelta(minutes=1)) == 0
    assert await run_due(reach, now=start) == 2
    assert await run_due(reach, now=start + timedelta(days=1)) == 0
    messages, _ = inbox.list_messages(
        engine=reach_db, customer_id="cust-1", app_id="life", unread_only=False, limit=5, now=start
    )
    assert [m.title for m in messages] == ["Welcome"]


def _profile(**fields: object) -> dict:
    from services.reach.segments import profile_record

    return profile_record(AudienceProfile(customer_id="c", **fields), now=local(2, 10))


@pytest.mark.parametrize(
    ("predicate", "fields", "expected"),
    [
        ({"field": "apps", "op": "contains", "values": ["mbank", "life"]}, {"apps": ["life", "mbank"]}, True),
        ({"field": "apps", "op": "contains", "values": ["mbank", "life"]}, {"apps": ["mbank"]}, False),
        ({"field": "editions", "op": "in", "values": ["elderly"]}, {"editions": ["standard"]}, False),
        ({"field": "editions", "op": "not_in", "values": ["student"]}, {"editions": ["elderly"]}, True),
        ({"field": "assurance_level", "op": "gte", "values": ["2"]}, {"assurance_level": 2}, True),
        ({"field": "assurance_level", "op": "gt", "values": ["2"]}, {"assurance_level": 2}, False),
        ({"field": "aum_tier", "op": "eq", "values": ["private"]}, {"aum_tier": ""}, False),
        ({"field": "aum_tier", "op": "ne", "values": ["private"]}, {"aum_tier": ""}, True),
        ({"field": "branch", "op": "exists", "values": []}, {"branch": ""}, False),
        (
            {"field": "inactive_days", "op": "gte", "values": ["30"]},
            {"last_active_at": local(2, 10) - timedelta(days=31)},
            True,
        ),
        ({"field": "inactive_days", "op": "gte", "values": ["30"]}, {}, False),
        ({"field": "tags", "op": "lt", "values": ["3"]}, {"tags": ["a"]}, False),
    ],
)
def test_segment_predicates(predicate: dict, fields: dict, expected: bool) -> None:
    assert holds(Predicate.model_validate(predicate), _profile(**fields)) is expected


def test_empty_segment_matches_everyone() -> None:
    assert matches([], _profile())
