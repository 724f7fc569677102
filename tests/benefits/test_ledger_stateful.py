"""Property-based stateful test: random grant/reserve/confirm/cancel/redeem/refund/expire sequences
keep the ledger balanced, stored balances equal to postings, and the redeemed sinks equal to the model."""

from __future__ import annotations

import functools
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from services.benefits import lifecycle, redemptions, wallet
from services.benefits.ledger import balance_of, check_ledger, redeemed_account
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, migrate, read_session
from services.runtime.errors import DomainError
from tests.benefits.conftest import REACH, acting, approved_benefit

CUSTOMERS = st.sampled_from(["c1", "c2", "c3"])
BENEFITS = st.sampled_from(["points", "coupon"])
CONTEXT = Context(app_id="mbank", assurance_level=2)


@functools.cache
def template_database() -> Path:
    """A migrated database with the two benefits, copied for every example (migrating is slow)."""
    path = Path(tempfile.mkdtemp(prefix="benefits-template-")) / "benefits.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine, "benefits")
    approved_benefit(
        engine,
        benefit_id="points",
        kind="points",
        face_value=300,
        total_budget=3_000,
        valid_days=10,
        claimable=False,
    )
    approved_benefit(
        engine,
        benefit_id="coupon",
        kind="discount_coupon",
        face_value=400,
        discount_bps=2_500,
        total_budget=2_000,
        valid_days=10,
        per_customer_limit=3,
    )
    engine.dispose()  # closing the last connection folds the WAL into the file
    assert not path.with_name("benefits.db-wal").exists()
    return path


class LedgerMachine(RuleBasedStateMachine):
    """Drives the real domain functions on a real SQLite file; the model tracks what was redeemed."""

    holds = Bundle("holds")
    confirmed = Bundle("confirmed")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="benefits-ledger-"))
        shutil.copy(template_database(), self.dir / "benefits.db")
        self.engine = make_engine(f"sqlite:///{self.dir / 'benefits.db'}")
        self.redeemed = {"points": 0, "coupon": 0}
        self.settled: set[str] = set()
        self.keys = 0

    def key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def attempt(self, fn, **kwargs):
        try:
            return fn(**kwargs)[0]
        except DomainError:
            return None

    @rule(customer=CUSTOMERS, benefit=BENEFITS)
    def grant(self, customer: str, benefit: str) -> None:
        self.attempt(
            wallet.grant_benefit,
            engine=self.engine,
            customer_id=customer,
            benefit_id=benefit,
            idempotency_key=self.key(),
            context=CONTEXT,
            channel="reach:s",
            by=REACH,
        )

    def _target(self, customer: str, benefit: str, amount: int) -> Target:
        return Target(
            customer_id=customer,
            benefit_id=benefit,
            amount=amount if benefit == "points" else 0,
            order_amount=amount * 4,
            context=CONTEXT,
            by=acting(CONTEXT),
        )

    @rule(
        target=holds, customer=CUSTOMERS, benefit=BENEFITS, amount=st.integers(1, 700), ttl=st.integers(1, 60)
    )
    def reserve(self, customer: str, benefit: str, amount: int, ttl: int):
        view = self.attempt(
            redemptions.reserve_benefit,
            engine=self.engine,
            target=self._target(customer, benefit, amount),
            ttl_s=ttl,
            idempotency_key=self.key(),
        )
        return view or "none"

    @rule(target=confirmed, hold=holds)
    def confirm(self, hold):
        if hold == "none":
            return "none"
        view = self.attempt(
            redemptions.confirm_redemption,
            engine=self.engine,
            redemption_id=hold.redemption_id,
            customer_id=hold.customer_id,
            by=acting(CONTEXT),
            idempotency_key=self.key(),
        )
        if view is None:
            return "none"
        if view.status == "confirmed" and view.redemption_id not in self.settled:
            self.settled.add(view.redemption_id)
            self.redeemed[view.benefit_id] += view.amount
        return view

    @rule(hold=holds)
    def cancel(self, hold) -> None:
        if hold != "none":
            self.attempt(
                redemptions.cancel_redemption,
                engine=self.engine,
                redemption_id=hold.redemption_id,
                customer_id=hold.customer_id,
                by=acting(CONTEXT),
                idempotency_key=self.key(),
            )

    @rule(target=confirmed, customer=CUSTOMERS, benefit=BENEFITS, amount=st.integers(1, 700))
    def redeem(self, customer: str, benefit: str, amount: int):
        view = self.attempt(
            redemptions.redeem_benefit,
            engine=self.engine,
            target=self._target(customer, benefit, amount),
            idempotency_key=self.key(),
        )
        if view is None:
            return "none"
        self.redeemed[view.benefit_id] += view.amount
        return view

    @rule(done=confirmed, ratio=st.integers(1, 10_000))
    def refund(self, done, ratio: int) -> None:
        if done == "none":
            return
        view = self.attempt(
            redemptions.refund_redemption,
            engine=self.engine,
            redemption_id=done.redemption_id,
            customer_id=done.customer_id,
            by=acting(CONTEXT),
            amount=0,
            ratio_bps=ratio,
            idempotency_key=self.key(),
        )
        if view is not None:
            assert view.refunded_now == done.amount * ratio // 10_000
            self.redeemed[view.benefit_id] -= view.refunded_now

    @rule(days=st.integers(0, 12))
    def expire(self, days: int) -> None:
        lifecycle.expire_due(engine=self.engine, now=utcnow() + timedelta(days=days, seconds=61))

    @invariant()
    def ledger_balances(self) -> None:
        report = check_ledger(engine=self.engine)
        assert report.total_debits == report.total_credits
        assert report.balanced, report
        with read_session(self.engine) as session:
            for benefit, expected in self.redeemed.items():
                assert balance_of(session, redeemed_account(benefit)) == expected

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)


LedgerMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
)
TestLedgerMachine = LedgerMachine.TestCase
