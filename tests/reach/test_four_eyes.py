"""Four eyes: nobody approves a strategy version or a policy change they authored, edited or proposed."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from services.reach import policy as policies
from services.reach import policy_changes, revisions, strategies
from services.runtime.db import read_session
from services.runtime.errors import Conflict, Forbidden, NotFound
from tests.reach.test_strategies import SPEC

AUTHOR = strategies.Actor(operator_id="op-author")
EDITOR = strategies.Actor(operator_id="op-editing-reviewer")
THIRD = strategies.Actor(operator_id="op-third-reviewer")


def _approve(engine: Engine, actor: strategies.Actor, strategy_id: str) -> strategies.Strategy:
    return strategies.change_status(engine=engine, actor=actor, strategy_id=strategy_id, action="approve")


def _edit(engine: Engine, actor: strategies.Actor, strategy_id: str, name: str) -> strategies.Strategy:
    return strategies.update_strategy(
        engine=engine, actor=actor, strategy_id=strategy_id, spec_data={**SPEC, "name": name}
    )


def _refused(engine: Engine, actor: strategies.Actor, strategy_id: str) -> None:
    with pytest.raises(Forbidden) as err:
        _approve(engine, actor, strategy_id)
    assert err.value.reason == "own_work"


def test_a_reviewer_who_edits_a_draft_cannot_approve_it(reach_db: Engine) -> None:
    s = strategies.create_strategy(engine=reach_db, actor=AUTHOR, spec_data=SPEC)
    edited = _edit(reach_db, EDITOR, s.strategy_id, "welcome, reworded")
    assert (edited.revision, edited.edited_by) == (1, ["op-author", "op-editing-reviewer"])
    _refused(reach_db, AUTHOR, s.strategy_id)
    _refused(reach_db, EDITOR, s.strategy_id)
    approved = _approve(reach_db, THIRD, s.strategy_id)
    assert (approved.status, approved.approved_by) == ("approved", THIRD.operator_id)


def test_an_edit_after_approval_is_a_new_version_that_needs_review(reach_db: Engine) -> None:
    s = strategies.create_strategy(engine=reach_db, actor=AUTHOR, spec_data=SPEC)
    _approve(reach_db, THIRD, s.strategy_id)
    strategies.change_status(engine=reach_db, actor=AUTHOR, strategy_id=s.strategy_id, action="activate")
    strategies.change_status(engine=reach_db, actor=AUTHOR, strategy_id=s.strategy_id, action="pause")
    edited = _edit(reach_db, THIRD, s.strategy_id, "welcome v2")  # the earlier approver rewrites it
    assert (edited.status, edited.approved_by, edited.revision, edited.edited_by) == (
        "draft",
        None,
        2,
        ["op-third-reviewer"],
    )
    with pytest.raises(Conflict):
        strategies.change_status(engine=reach_db, actor=AUTHOR, strategy_id=s.strategy_id, action="activate")
    _refused(reach_db, THIRD, s.strategy_id)
    _approve(reach_db, EDITOR, s.strategy_id)
    with read_session(reach_db) as session:
        history = revisions.history(session, strategy_id=s.strategy_id)
    assert [(r.revision, r.authored_by, r.edited_by, r.approved_by) for r in history] == [
        (1, "op-author", [], "op-third-reviewer"),
        (2, "op-third-reviewer", [], "op-editing-reviewer"),
    ]
    assert history[1].spec["name"] == "welcome v2" and history[0].spec["name"] == "welcome"


def test_editors_accumulate_until_the_version_is_approved(reach_db: Engine) -> None:
    s = strategies.create_strategy(engine=reach_db, actor=AUTHOR, spec_data=SPEC)
    for actor, name in ((EDITOR, "a"), (AUTHOR, "b"), (EDITOR, "c")):
        _edit(reach_db, actor, s.strategy_id, name)
    for actor in (AUTHOR, EDITOR):
        _refused(reach_db, actor, s.strategy_id)
    with read_session(reach_db) as session:
        [row] = revisions.history(session, strategy_id=s.strategy_id)
    assert (row.authored_by, row.edited_by, row.spec["name"]) == ("op-author", ["op-editing-reviewer"], "c")
    assert _approve(reach_db, THIRD, s.strategy_id).status == "approved"


HEAD_ADMIN = strategies.Actor(operator_id="op-admin-1")
OTHER_ADMIN = strategies.Actor(operator_id="op-admin-2")


def test_a_policy_change_takes_effect_only_when_another_head_office_admin_approves(reach_db: Engine) -> None:
    before = policies.get_policy(engine=reach_db)
    proposal = policy_changes.propose(
        engine=reach_db, actor=HEAD_ADMIN, data={"daily_contact_budget": 40, "quiet_start": "23:30"}
    )
    assert policies.get_policy(engine=reach_db) == before
    assert policy_changes.pending_proposal(engine=reach_db).proposal_id == proposal.proposal_id
    with pytest.raises(Forbidden) as err:
        policy_changes.approve(engine=reach_db, actor=HEAD_ADMIN, proposal_id=proposal.proposal_id)
    assert err.value.reason == "own_work"
    branch_admin = strategies.Actor(operator_id="op-branch-admin", branch="north")
    with pytest.raises(Forbidden) as err:
        policy_changes.approve(engine=reach_db, actor=branch_admin, proposal_id=proposal.proposal_id)
    assert err.value.reason == "head_office_only"
    with pytest.raises(Forbidden):
        policy_changes.propose(engine=reach_db, actor=branch_admin, data={})
    assert policies.get_policy(engine=reach_db) == before

    approved = policy_changes.approve(engine=reach_db, actor=OTHER_ADMIN, proposal_id=proposal.proposal_id)
    assert (approved.status, approved.decided_by) == ("approved", "op-admin-2")
    now_in_force = policies.get_policy(engine=reach_db)
    assert (now_in_force.daily_contact_budget, now_in_force.quiet_start) == (40, "23:30")
    assert policy_changes.pending_proposal(engine=reach_db) is None
    with pytest.raises(Conflict):
        policy_changes.approve(engine=reach_db, actor=OTHER_ADMIN, proposal_id=proposal.proposal_id)
    with pytest.raises(NotFound):
        policy_changes.approve(engine=reach_db, actor=OTHER_ADMIN, proposal_id="no-such-proposal")


def test_a_newer_proposal_supersedes_the_waiting_one(reach_db: Engine) -> None:
    first = policy_changes.propose(engine=reach_db, actor=HEAD_ADMIN, data={"daily_contact_budget": 9})
    second = policy_changes.propose(engine=reach_db, actor=OTHER_ADMIN, data={"daily_contact_budget": 3})
    with pytest.raises(Conflict) as err:
        policy_changes.approve(engine=reach_db, actor=OTHER_ADMIN, proposal_id=first.proposal_id)
    assert err.value.reason == "proposal_not_pending"
    policy_changes.approve(engine=reach_db, actor=HEAD_ADMIN, proposal_id=second.proposal_id)
    assert policies.get_policy(engine=reach_db).daily_contact_budget == 3


def _edit_at(engine: Engine, strategy_id: str, barrier: threading.Barrier) -> None:
    barrier.wait()
    _edit(engine, EDITOR, strategy_id, "slipped in")


def _approve_at(engine: Engine, strategy_id: str, barrier: threading.Barrier) -> None:
    barrier.wait()
    with contextlib.suppress(Forbidden):
        _approve(engine, EDITOR, strategy_id)


def test_an_approval_racing_an_edit_by_the_approver_never_approves_the_edit(any_reach_db: Engine) -> None:
    """Whichever commits first, the editor's own text is never approved by the editor."""
    for _ in range(15):
        s = strategies.create_strategy(engine=any_reach_db, actor=AUTHOR, spec_data=SPEC)
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            racing = [
                pool.submit(step, any_reach_db, s.strategy_id, barrier) for step in (_edit_at, _approve_at)
            ]
            for future in racing:
                future.result()
        with read_session(any_reach_db) as session:
            approved = [r for r in revisions.history(session, strategy_id=s.strategy_id) if r.approved_by]
        for revision in approved:
            assert revision.approved_by not in [revision.authored_by, *revision.edited_by]
            assert revision.spec["name"] != "slipped in"
