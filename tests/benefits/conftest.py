"""Benefits fixtures: a migrated database whose ledger is proved balanced after every test, and a
helper that puts approved benefits in the catalogue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from services.benefits import catalogue
from services.benefits.ledger import check_ledger
from services.benefits.models import Benefit
from services.benefits.principals import Principal
from services.benefits.rules import Context
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, migrate
from tests.support.databases import DATABASE_KINDS, fresh_database_url

DRAFTER = Principal(kind="operator", actor_id="op-drafter")
REVIEWER = Principal(kind="operator", actor_id="op-reviewer")
REACH = Principal(kind="service", scope_id="reach", actor_id="reach")


def acting(context: Context) -> Principal:
    """The principal the gateway passes for a customer in an app or a partner in its scene."""
    if context.partner_id:
        return Principal(kind="partner", scope_id=context.partner_id)
    return Principal(kind="customer", scope_id=context.app_id)


def assert_ledger_balanced(engine: Engine) -> None:
    """Debits = credits, every entry sums to zero, stored balances = balances from postings."""
    report = check_ledger(engine=engine)
    assert report.total_debits == report.total_credits, report
    assert report.balanced, report


@pytest.fixture(params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated benefits database (SQLite; PostgreSQL under `-m postgres`), proved balanced afterwards."""
    with fresh_database_url(request.param, tmp_path, service="benefits") as url:
        engine = make_engine(url, pool_size=20)
        try:
            migrate(engine, "benefits")
            yield engine
            assert_ledger_balanced(engine)
        finally:
            engine.dispose()


def approved_benefit(engine: Engine, **fields: object) -> Benefit:
    """Draft a benefit as one operator and approve it as another (which funds its budget)."""
    values: dict[str, object] = {
        "benefit_id": f"b-{uuid.uuid4().hex[:8]}",
        "name": "Coffee coupon",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*", "partner:*"],
        "valid_until": utcnow() + timedelta(days=30),
        "claimable": True,
    }
    values.update(fields)
    catalogue.create_benefit(engine=engine, benefit=Benefit(**values), by=DRAFTER)
    return catalogue.review_benefit(
        engine=engine,
        benefit_id=str(values["benefit_id"]),
        by=REVIEWER,
        approve=True,
        note="ok",
    )
