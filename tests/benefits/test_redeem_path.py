"""The one-step redemption's writes: the same journal entries as a hold then its confirmation, in a
bounded number of SQL statements (issue 15), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lattice.benefits.v1 import events_pb2
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.benefits import ledger, redemptions, wallet
from services.benefits.models import Grant, LedgerEntry, LedgerPosting, Redemption, RedemptionLine
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.runtime.outbox import OutboxEvent
from tests.benefits.conftest import REACH, acting, approved_benefit

MBANK = Context(app_id="mbank", assurance_level=2)
# Statements of a redemption from one lot, with the group commit's BEGIN and SAVEPOINT (27 before
# issue 15's work); each further lot adds its balance update. A change that adds statements to the
# hot path should say why here. 17 -> 16: the idempotency record is claimed with one
# INSERT ... ON CONFLICT DO NOTHING RETURNING instead of a read then an ORM insert.
MAX_STATEMENTS = 16


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _entries(engine: Engine, reference: str) -> dict[str, dict[str, int]]:
    with Session(engine) as session:
        rows = session.exec(
            select(LedgerEntry.kind, LedgerPosting.account_id, LedgerPosting.amount)
            .join(LedgerPosting, col(LedgerPosting.entry_id) == col(LedgerEntry.entry_id))
            .where(LedgerEntry.reference == reference)
        )
        entries: dict[str, dict[str, int]] = {}
        for kind, account, amount in rows:
            entries.setdefault(kind, {})[account] = amount
        return entries


def test_points_from_two_lots_are_a_hold_and_a_confirmation_in_few_statements(engine: Engine) -> None:
    benefit = approved_benefit(engine, kind="points", face_value=1000, total_budget=10_000, valid_days=30)
    grants = [
        wallet.grant_benefit(
            engine=engine,
            customer_id="c1",
            benefit_id=benefit.benefit_id,
            idempotency_key=f"g{i}",
            context=MBANK,
            channel="reach:welcome",
            by=REACH,
        )[0]
        for i in range(2)
    ]
    target = Target(
        customer_id="c1", benefit_id=benefit.benefit_id, amount=1500, context=MBANK, by=acting(MBANK)
    )
    with counted(engine) as statements:
        done, replayed = redemptions.redeem_benefit(engine=engine, target=target, idempotency_key="r1")
    assert not replayed
    assert len(statements) <= MAX_STATEMENTS + 1, "\n".join(statements)  # two lots
    assert (done.status, done.amount) == ("confirmed", 1500)
    assert done.grant_ids == sorted(g.grant_id for g in grants)

    rid = done.redemption_id
    hold, redeemed = ledger.hold_account(rid), ledger.redeemed_account(benefit.benefit_id)
    entries = _entries(engine, rid)
    assert entries["confirm"] == {hold: -1500, redeemed: 1500}
    assert entries["hold"][hold] == 1500
    assert sorted(v for a, v in entries["hold"].items() if a != hold) == [-1000, -500]
    with Session(engine) as session:
        balances = ledger.balances_of(
            session, [hold, redeemed, *(ledger.grant_account(g.grant_id) for g in grants)]
        )
        assert balances[hold] == 0 and balances[redeemed] == 1500  # the hold account exists, at zero
        assert sorted(v for a, v in balances.items() if a.startswith("grant:")) == [0, 500]
        row = session.get(Redemption, rid)
        assert row is not None and (row.status, row.amount) == ("confirmed", 1500)
        assert row.settled_at is not None and row.created_by_scope == "mbank"
        lines = session.exec(select(RedemptionLine).where(RedemptionLine.redemption_id == rid)).all()
        assert sorted(line.amount for line in lines) == [500, 1000]
        events = session.exec(
            select(OutboxEvent).where(OutboxEvent.subject == "benefits.redemption.confirmed")
        ).all()
        assert [events_pb2.RedemptionConfirmed.FromString(e.payload).redemption_id for e in events] == [rid]

    # the same key again: the stored answer, nothing written
    with counted(engine) as statements:
        again, replayed = redemptions.redeem_benefit(engine=engine, target=target, idempotency_key="r1")
    assert replayed and again == done
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    # only the claim of the key, which inserts nothing when the key is taken
    assert len(writes) == 1 and "ON CONFLICT" in writes[0].upper(), "\n".join(writes)
    assert _entries(engine, rid) == entries


def test_a_coupon_leaves_its_leftover_to_the_budget_and_is_used_up(engine: Engine) -> None:
    benefit = approved_benefit(engine, face_value=500, total_budget=5_000)
    target = Target(
        customer_id="c1", benefit_id=benefit.benefit_id, order_amount=300, context=MBANK, by=acting(MBANK)
    )
    with counted(engine) as statements:
        done, _ = redemptions.redeem_benefit(engine=engine, target=target, idempotency_key="r1")
    assert done.amount == 300
    (grant_id,) = done.grant_ids
    claim = 9  # the claim of the claimable coupon: its quota, the grant, its account and entry, its event
    coupon = 2  # the lot used up, the leftover back to the budget
    assert len(statements) <= MAX_STATEMENTS + claim + coupon, "\n".join(statements)
    grant_account, budget = ledger.grant_account(grant_id), ledger.budget_account(benefit.benefit_id)
    assert _entries(engine, grant_id)["coupon_leftover"] == {grant_account: -200, budget: 200}
    assert set(_entries(engine, done.redemption_id)) == {"hold", "confirm"}
    with Session(engine) as session:
        grant = session.get(Grant, grant_id)
        assert grant is not None and grant.status == "used"
        assert ledger.balance_of(session, grant_account) == 0
        assert ledger.balance_of(session, budget) == 5_000 - 300
