"""A redemption does not read the benefit's definition again once this process has seen it approved
(issue 15), yet a paused or stopped benefit is refused at once: its status comes with the lots, in
the transaction that would write. On SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from services.benefits import controls, redemptions, wallet
from services.benefits.principals import Principal
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.runtime.errors import Rejected
from tests.benefits.conftest import REACH, acting, approved_benefit
from tests.benefits.test_redeem_path import MAX_STATEMENTS, counted

MBANK = Context(app_id="mbank", assurance_level=2)
ASKER = Principal(kind="operator", actor_id="op-asker")


def _setup(engine: Engine) -> Target:
    benefit = approved_benefit(engine, kind="points", face_value=100, total_budget=1_000, valid_days=30)
    wallet.grant_benefit(
        engine=engine,
        customer_id="c1",
        benefit_id=benefit.benefit_id,
        idempotency_key="g1",
        context=MBANK,
        channel="reach:welcome",
        by=REACH,
    )
    return Target(customer_id="c1", benefit_id=benefit.benefit_id, amount=1, context=MBANK, by=acting(MBANK))


def test_a_known_definition_is_not_read_again(engine: Engine) -> None:
    use = _setup(engine)
    redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r1")  # reads and keeps it
    with counted(engine) as statements:
        done, replayed = redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r2")
    assert not replayed and done.status == "confirmed"
    from_benefit = [s for s in statements if "FROM benefit " in s or "FROM benefit\n" in s]
    assert from_benefit == [], "\n".join(from_benefit)
    assert len(statements) <= MAX_STATEMENTS - 1, "\n".join(statements)


@pytest.mark.parametrize("action", ["pause", "stop"])
def test_a_known_definition_paused_or_stopped_is_refused_at_once(engine: Engine, action: str) -> None:
    use = _setup(engine)
    redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r1")  # cached as approved
    controls.change_state(engine=engine, benefit_id=use.benefit_id, action=action, reason="check", by=ASKER)
    with pytest.raises(Rejected) as err:
        redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r2")
    assert err.value.reason == f"benefit_{'paused' if action == 'pause' else 'stopped'}"
    if action == "pause":
        controls.change_state(
            engine=engine, benefit_id=use.benefit_id, action="resume", reason="ok", by=ASKER
        )
        done, _ = redemptions.redeem_benefit(engine=engine, target=use, idempotency_key="r2")
        assert done.status == "confirmed"
