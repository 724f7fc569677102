"""A live benefit's lifecycle, four eyes on money, branch scope and ownership, on a real database."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from services.benefits import audit, catalogue, controls, ledger, redemptions, wallet
from services.benefits.ledger_reports import account_balance
from services.benefits.models import Benefit, Grant, Redemption, RedemptionRefund
from services.benefits.principals import Principal
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.runtime.clock import utcnow
from services.runtime.db import read_session
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound, Rejected
from tests.benefits.conftest import DRAFTER, REACH, REVIEWER, acting, approved_benefit

MBANK = Context(app_id="mbank", assurance_level=2)
ASKER = Principal(kind="operator", actor_id="op-asker")
SHANGHAI = Principal(kind="operator", scope_id="shanghai", actor_id="sh-op")
BEIJING = Principal(kind="operator", scope_id="beijing", actor_id="bj-op")


def grant(engine: Engine, benefit_id: str, key: str) -> str:
    view, _ = wallet.grant_benefit(
        engine=engine,
        customer_id="c1",
        benefit_id=benefit_id,
        idempotency_key=key,
        context=MBANK,
        channel="reach:s",
        by=REACH,
    )
    return view.grant_id


def actions(engine: Engine, benefit_id: str) -> list[tuple[str, str]]:
    records, _ = audit.benefit_audit(engine=engine, benefit_id=benefit_id, by=DRAFTER, size=100, token="")
    return [(r.action, r.actor_id) for r in records]


def test_a_top_up_counts_only_once_someone_else_approves_it(engine: Engine) -> None:
    benefit = approved_benefit(engine, total_budget=1_000, daily_budget=500)
    change = controls.request_change(
        engine=engine,
        benefit_id=benefit.benefit_id,
        kind="top_up",
        by=ASKER,
        reason="campaign extended",
        total_budget_increase=4_000,
        daily_budget=1_000,
    )
    assert catalogue.get_benefit(engine=engine, benefit_id=benefit.benefit_id, by=ASKER)[1] == 1_000
    for who in (ASKER, DRAFTER):  # the requester, and the benefit's author
        with pytest.raises(Forbidden) as err:
            controls.review_change(
                engine=engine,
                benefit_id=benefit.benefit_id,
                change_id=change.change_id,
                approve=True,
                note="",
                by=who,
            )
        assert err.value.reason == "self_approval"
    done, updated, left = controls.review_change(
        engine=engine,
        benefit_id=benefit.benefit_id,
        change_id=change.change_id,
        approve=True,
        note="ok",
        by=REVIEWER,
    )
    assert (done.status, updated.total_budget, updated.daily_budget, left) == (
        "approved",
        5_000,
        1_000,
        5_000,
    )
    with pytest.raises(Conflict):
        controls.review_change(
            engine=engine,
            benefit_id=benefit.benefit_id,
            change_id=change.change_id,
            approve=True,
            note="",
            by=REVIEWER,
        )
    assert actions(engine, benefit.benefit_id) == [
        ("drafted", "op-drafter"),
        ("approved", "op-reviewer"),
        ("top_up_requested", "op-asker"),
        ("top_up_approved", "op-reviewer"),
    ]


def test_an_extension_keeps_the_lots_alive_to_the_new_end(engine: Engine) -> None:
    benefit = approved_benefit(engine)
    grant_id = grant(engine, benefit.benefit_id, "g1")
    assert benefit.valid_until is not None
    later = benefit.valid_until + timedelta(days=30)
    with pytest.raises(InvalidInput):
        controls.request_change(
            engine=engine,
            benefit_id=benefit.benefit_id,
            kind="extend",
            by=ASKER,
            reason="x",
            valid_until=utcnow(),
        )
    change = controls.request_change(
        engine=engine,
        benefit_id=benefit.benefit_id,
        kind="extend",
        by=ASKER,
        reason="busy season",
        valid_until=later,
    )
    rejected, _, _ = controls.review_change(
        engine=engine,
        benefit_id=benefit.benefit_id,
        change_id=change.change_id,
        approve=False,
        note="no",
        by=REVIEWER,
    )
    assert rejected.status == "rejected"
    change = controls.request_change(
        engine=engine,
        benefit_id=benefit.benefit_id,
        kind="extend",
        by=ASKER,
        reason="busy season",
        valid_until=later,
    )
    controls.review_change(
        engine=engine,
        benefit_id=benefit.benefit_id,
        change_id=change.change_id,
        approve=True,
        note="",
        by=REVIEWER,
    )
    lots = wallet.get_wallet(
        engine=engine, customer_id="c1", context=MBANK, only_usable_here=False, include_inactive=True
    )
    assert [(g.grant_id, g.expires_at) for g in lots.grants] == [(grant_id, later)]


def test_paused_and_stopped_benefits_are_neither_granted_nor_redeemed(engine: Engine) -> None:
    benefit = approved_benefit(engine, kind="points", face_value=100, total_budget=1_000, valid_days=30)
    grant(engine, benefit.benefit_id, "g1")
    use = Target(customer_id="c1", benefit_id=benefit.benefit_id, amount=10, context=MBANK, by=acting(MBANK))
    with pytest.raises(InvalidInput):
        controls.change_state(
            engine=engine, benefit_id=benefit.benefit_id, action="pause", reason=" ", by=ASKER
        )
    controls.change_state(
        engine=engine, benefit_id=benefit.benefit_id, action="pause", reason="fraud check", by=ASKER
    )
    for attempt in (
        lambda: grant(engine, benefit.benefit_id, "g2"),
        lambda: redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r1"),
    ):
        with pytest.raises(Rejected) as err:
            attempt()
        assert err.value.reason == "benefit_paused"
    controls.change_state(
        engine=engine, benefit_id=benefit.benefit_id, action="resume", reason="cleared", by=ASKER
    )
    redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r1")
    pending = controls.request_change(
        engine=engine,
        benefit_id=benefit.benefit_id,
        kind="top_up",
        by=ASKER,
        reason="x",
        total_budget_increase=1,
    )
    stopped, left = controls.change_state(
        engine=engine, benefit_id=benefit.benefit_id, action="stop", reason="campaign over", by=ASKER
    )
    assert (stopped.status, left) == ("stopped", 0)  # the unspent budget went back to the funder
    with pytest.raises(Rejected) as err:
        redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r2")
    assert err.value.reason == "benefit_stopped"
    for action in ("resume", "pause", "stop"):
        with pytest.raises(Conflict):
            controls.change_state(
                engine=engine, benefit_id=benefit.benefit_id, action=action, reason="x", by=ASKER
            )
    with pytest.raises(Conflict):
        controls.review_change(
            engine=engine,
            benefit_id=benefit.benefit_id,
            change_id=pending.change_id,
            approve=True,
            note="",
            by=REVIEWER,
        )
    assert [a for a, _ in actions(engine, benefit.benefit_id)][2:] == [
        "paused",
        "resumed",
        "top_up_requested",
        "stopped",
    ]


def test_a_branch_sees_only_its_own_benefits(engine: Engine) -> None:
    head_office = approved_benefit(engine)
    catalogue.create_benefit(
        engine=engine,
        benefit=Benefit(
            benefit_id="sh-tea",
            name="Tea",
            kind="fixed_coupon",
            funder="dept:shanghai",
            face_value=100,
            total_budget=1_000,
            usable_scopes=["app:*"],
            valid_days=3,
        ),
        by=SHANGHAI,
    )
    mine = [
        b.benefit_id
        for b, _ in catalogue.list_benefits(
            engine=engine, by=SHANGHAI, status="", branch="", limit=50, after=""
        )
    ]
    assert mine == ["sh-tea"]
    theirs = catalogue.list_benefits(
        engine=engine, by=BEIJING, status="", branch="shanghai", limit=50, after=""
    )
    assert theirs == []
    for who, benefit_id in ((BEIJING, "sh-tea"), (SHANGHAI, head_office.benefit_id)):
        for call in (
            partial(catalogue.get_benefit, benefit_id=benefit_id, by=who),
            partial(audit.benefit_audit, benefit_id=benefit_id, by=who, size=50, token=""),
            partial(controls.change_state, benefit_id=benefit_id, action="pause", reason="x", by=who),
            partial(catalogue.review_benefit, benefit_id=benefit_id, by=who, approve=True, note=""),
            partial(account_balance, account_id=ledger.budget_account(benefit_id), as_of=None, by=who),
        ):
            with pytest.raises(NotFound):
                call(engine=engine)
    with pytest.raises(NotFound):  # customers, partners and services never reach the catalogue
        catalogue.get_benefit(engine=engine, benefit_id="sh-tea", by=acting(MBANK))


def test_the_journal_answers_a_balance_as_of_any_time(engine: Engine) -> None:
    benefit = approved_benefit(engine, total_budget=2_000)
    account = ledger.budget_account(benefit.benefit_id)
    funded = utcnow()
    grant(engine, benefit.benefit_id, "g1")
    granted = utcnow()
    grant(engine, benefit.benefit_id, "g2")
    assert benefit.reviewed_at is not None
    balance = lambda at: account_balance(engine=engine, account_id=account, as_of=at, by=DRAFTER)[0]  # noqa: E731
    assert [
        balance(benefit.reviewed_at - timedelta(seconds=1)),
        balance(funded),
        balance(granted),
        balance(None),
    ] == [
        0,
        2_000,
        1_500,
        1_000,
    ]
    with read_session(engine) as session:
        assert ledger.balance_of(session, account) == 1_000
    with pytest.raises(NotFound):
        account_balance(engine=engine, account_id="grant:nope", as_of=None, by=DRAFTER)


def test_callers_act_only_as_themselves(engine: Engine) -> None:
    benefit = approved_benefit(engine)
    customer = acting(MBANK)
    with pytest.raises(InvalidInput) as err:  # a customer cannot take the bank's channel to skip claim rules
        wallet.grant_benefit(
            engine=engine,
            customer_id="c1",
            benefit_id=benefit.benefit_id,
            idempotency_key="g",
            context=MBANK,
            channel="ops:x",
            by=customer,
        )
    assert err.value.reason == "invalid_channel"
    elsewhere = Target(
        customer_id="c1", benefit_id=benefit.benefit_id, context=Context(app_id="life"), by=customer
    )
    with pytest.raises(InvalidInput) as err:
        redemptions.redeem_benefit(engine=engine, target=elsewhere, idempotency_key="r")
    assert err.value.reason == "context_mismatch"
    nobody = Target(customer_id="c1", benefit_id=benefit.benefit_id, context=MBANK)
    with pytest.raises(InvalidInput) as err:
        redemptions.redeem_benefit(engine=engine, target=nobody, idempotency_key="r")
    assert err.value.reason == "invalid_principal"
    with pytest.raises(NotFound):
        wallet.revoke_grant(
            engine=engine, grant_id=grant(engine, benefit.benefit_id, "g"), by=BEIJING, idempotency_key="k"
        )


def test_every_object_records_the_principal_and_scope_that_created_it(engine: Engine) -> None:
    benefit = approved_benefit(engine, kind="points", face_value=100, total_budget=1_000, valid_days=30)
    ride = Context(partner_id="ride", scene="trip")
    grant(engine, benefit.benefit_id, "g1")
    use = Target(customer_id="c1", benefit_id=benefit.benefit_id, amount=40, context=ride, by=acting(ride))
    done, _ = redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r1")
    redemptions.refund_redemption(
        engine=engine,
        redemption_id=done.redemption_id,
        customer_id="c1",
        by=acting(ride),
        amount=10,
        ratio_bps=0,
        idempotency_key="f1",
    )
    with read_session(engine) as session:
        made = [
            (row.created_by_kind, row.created_by_scope)
            for model in (Grant, Redemption, RedemptionRefund)
            for row in session.exec(select(model))
        ]
    assert made == [("service", "reach"), ("partner", "ride"), ("partner", "ride")]
