"""The burn-down counts each posting on its Asia/Shanghai day, from the budget account's postings only."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine

from services.benefits import ledger, wallet
from services.benefits.burndown import budget_burndown
from services.benefits.models import LedgerPosting
from services.benefits.principals import Principal
from services.benefits.rules import Context
from services.runtime.db import transaction
from tests.benefits.conftest import DRAFTER, REACH, approved_benefit

MIDNIGHT_SHANGHAI = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 +08:00


def _move_postings(engine: Engine, account: str, at: datetime, *, amount_sign: int) -> None:
    """Backdate an account's postings of one sign (the test's clock; amounts are untouched)."""
    sign = LedgerPosting.amount > 0 if amount_sign > 0 else LedgerPosting.amount < 0
    with transaction(engine) as session:
        session.exec(
            update(LedgerPosting).where(LedgerPosting.account_id == account, sign).values(created_at=at)
        )


def test_each_posting_lands_on_its_shanghai_day(engine: Engine) -> None:
    benefit = approved_benefit(engine, total_budget=10_000, face_value=500)
    wallet.grant_benefit(
        engine=engine,
        benefit_id=benefit.benefit_id,
        customer_id="cus-1",
        channel="reach:strategy",
        idempotency_key="g-1",
        context=Context(app_id="mbank"),
        by=REACH,
    )
    account = ledger.budget_account(benefit.benefit_id)
    _move_postings(engine, account, datetime(2026, 3, 1, 15, 59, tzinfo=UTC), amount_sign=+1)  # 23:59 local
    _move_postings(engine, account, MIDNIGHT_SHANGHAI, amount_sign=-1)  # 00:00 local, the next day

    _, days = budget_burndown(
        engine=engine, benefit_id=benefit.benefit_id, by=DRAFTER, from_day="2026-02-28", to_day="2026-03-03"
    )
    assert [(d.day.isoformat(), d.added, d.spent, d.remaining) for d in days] == [
        ("2026-02-28", 0, 0, 0),
        ("2026-03-01", 10_000, 0, 10_000),
        ("2026-03-02", 0, 500, 9_500),
        ("2026-03-03", 0, 0, 9_500),
    ]
    _, opening = budget_burndown(
        engine=engine, benefit_id=benefit.benefit_id, by=DRAFTER, from_day="2026-03-02", to_day="2026-03-02"
    )
    assert [(d.added, d.spent, d.remaining) for d in opening] == [(0, 500, 9_500)]  # carries the day before
    _, default = budget_burndown(
        engine=engine,
        benefit_id=benefit.benefit_id,
        by=DRAFTER,
        from_day="",
        to_day="",
        now=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
    )
    assert [d.day.isoformat() for d in default] == ["2026-03-01", "2026-03-02"]  # from the first funded day


def test_a_branch_operator_reads_only_its_branch(engine: Engine) -> None:
    benefit = approved_benefit(engine, branch="shanghai")
    sh, bj = (
        Principal(kind="operator", scope_id="shanghai", actor_id="o1"),
        Principal(kind="operator", scope_id="beijing", actor_id="o2"),
    )
    assert budget_burndown(engine=engine, benefit_id=benefit.benefit_id, by=sh, from_day="", to_day="")[1]
    try:
        budget_burndown(engine=engine, benefit_id=benefit.benefit_id, by=bj, from_day="", to_day="")
    except Exception as exc:  # noqa: BLE001 - the exact domain error is checked below
        assert getattr(exc, "reason", "") == "benefit_not_found"
    else:
        raise AssertionError("another branch read the burn-down")
