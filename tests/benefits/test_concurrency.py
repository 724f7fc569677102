"""Budgets and limits under concurrent requests, on SQLite and on PostgreSQL.

The default run (SQLite) does the 500-redemption race once; `make test-postgres` (which sets
LATTICE_TEST_POSTGRES_URL) repeats it 20 times on SQLite and 20 times on PostgreSQL, as the acceptance
asks; BENEFITS_RACE_RUNS overrides the count.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from services.benefits import catalogue, redemptions
from services.benefits.ledger import budget_account
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.runtime.errors import DomainError
from tests.benefits.conftest import DRAFTER, acting, approved_benefit

REDEMPTIONS = 500
BUDGET_REDEMPTIONS = 100
FACE = 500
BUSY_RETRIES = 5
RUNS = int(os.environ.get("BENEFITS_RACE_RUNS", "20" if os.environ.get("LATTICE_TEST_POSTGRES_URL") else "1"))


def race_on_hot_budget(engine: Engine) -> Counter[str]:
    """500 different customers redeem a claimable coupon whose budget covers 100; count the outcomes."""
    benefit = approved_benefit(engine, face_value=FACE, total_budget=FACE * BUDGET_REDEMPTIONS)
    run = uuid.uuid4().hex[:6]

    def redeem(i: int) -> str:
        target = Target(
            customer_id=f"cust-{run}-{i}",
            benefit_id=benefit.benefit_id,
            order_amount=2_000,
            context=Context(app_id="mbank", assurance_level=2),
            by=acting(Context(app_id="mbank")),
        )
        for _ in range(BUSY_RETRIES):
            try:
                redemptions.redeem_benefit(engine=engine, target=target, idempotency_key=f"k-{i}")
                return "ok"
            except DomainError as exc:
                # a lock wait that outlasted its timeout (a loaded machine): the caller retries with
                # the same idempotency key, as the 503's Retry-After tells clients to
                if exc.reason != "database_busy":
                    return exc.reason
        return "database_busy"

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = Counter(pool.map(redeem, range(REDEMPTIONS)))
    _, remaining = catalogue.get_benefit(engine=engine, benefit_id=benefit.benefit_id, by=DRAFTER)
    assert remaining == 0, f"{budget_account(benefit.benefit_id)} = {remaining}"
    return outcomes


@pytest.mark.parametrize("run", range(RUNS))
def test_500_concurrent_redemptions_against_a_budget_of_100(engine: Engine, run: int) -> None:
    outcomes = race_on_hot_budget(engine)
    assert outcomes == Counter(ok=BUDGET_REDEMPTIONS, budget_exhausted=REDEMPTIONS - BUDGET_REDEMPTIONS)
