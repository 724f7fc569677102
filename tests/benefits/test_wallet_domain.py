"""Grants, redemptions, holds and refunds through the domain functions on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from services.benefits import redemptions, wallet
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.runtime.errors import InvalidInput, Rejected
from tests.benefits.conftest import REACH, acting, approved_benefit

MBANK = Context(app_id="mbank", assurance_level=2)


def test_grant_then_redeem_then_partial_refund_returns_exactly_that_share(engine: Engine) -> None:
    benefit = approved_benefit(engine, kind="points", face_value=1000, total_budget=10_000, valid_days=30)
    grant, _ = wallet.grant_benefit(
        engine=engine,
        customer_id="c1",
        benefit_id=benefit.benefit_id,
        idempotency_key="g1",
        context=MBANK,
        channel="reach:welcome",
        by=REACH,
    )
    assert grant.remaining == 1000
    target = Target(
        customer_id="c1", benefit_id=benefit.benefit_id, amount=500, context=MBANK, by=acting(MBANK)
    )
    redemption, _ = redemptions.redeem_benefit(engine=engine, target=target, idempotency_key="r1")
    assert (redemption.status, redemption.amount) == ("confirmed", 500)
    refund, _ = redemptions.refund_redemption(
        engine=engine,
        redemption_id=redemption.redemption_id,
        customer_id="c1",
        by=acting(MBANK),
        amount=0,
        ratio_bps=4000,
        idempotency_key="f1",
    )
    assert refund.refunded_now == 200
    view = wallet.get_wallet(
        engine=engine, customer_id="c1", context=MBANK, only_usable_here=False, include_inactive=False
    )
    assert [p.available for p in view.points] == [700]
    with pytest.raises(Rejected) as err:
        redemptions.redeem_benefit(
            engine=engine,
            target=Target(
                customer_id="c1", benefit_id=benefit.benefit_id, amount=701, context=MBANK, by=acting(MBANK)
            ),
            idempotency_key="r2",
        )
    assert err.value.reason == "insufficient_balance"


def test_a_benefit_for_an_unknown_edition_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as err:
        approved_benefit(engine, eligible_editions=["elderly", "gold"])
    assert err.value.reason == "invalid_edition"
