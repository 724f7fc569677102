"""Taking value from a customer's lots: holds, their settlement and their release, and the one-step
redemption (session level); what a use takes is planned in `uses`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from lattice.benefits.v1 import events_pb2
from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from services.benefits import ledger
from services.benefits.ledger import locked
from services.benefits.models import SINGLE_USE_KINDS, Grant, Redemption, RedemptionLine
from services.benefits.rules import RiskLimits
from services.benefits.uses import Target, Use, plan_use
from services.benefits.views import RedemptionView
from services.benefits.wallet import load_benefit
from services.runtime.outbox import record_event
from services.runtime.proto_mapping import to_proto

_GRANTS = ledger.table_of(Grant)
_REDEMPTIONS = ledger.table_of(Redemption)
_LINES = ledger.table_of(RedemptionLine)
_INSERT_REDEMPTION = insert(_REDEMPTIONS)
_INSERT_LINE = insert(_LINES)
_SET_GRANT_STATUS = (
    update(_GRANTS).where(_GRANTS.c.grant_id == bindparam("grant")).values(status=bindparam("status"))
)


def _set_lot_status(session: Session, use: Use, status: str) -> None:
    """A single-use coupon's lot becomes held or used (the claimed lot is still an ORM object)."""
    lot = use.plan[0][0]
    if use.claimed is not None and use.claimed.grant_id == lot.grant_id:
        use.claimed.status = status
        session.add(use.claimed)
    else:
        session.exec(_SET_GRANT_STATUS, params={"grant": lot.grant_id, "status": status})


def _write_redemption(
    session: Session, use: Use, *, target: Target, ttl_s: int, now: datetime, settled: bool
) -> RedemptionView:
    """Insert the redemption and its lines (Core, one executemany) and open its hold account;
    returns what the caller is told (no ORM object: nothing to flush or re-read)."""
    row: dict[str, object] = {
        "redemption_id": uuid.uuid4().hex,
        "benefit_id": use.benefit.benefit_id,
        "customer_id": target.customer_id,
        "status": "confirmed" if settled else "held",
        "amount": use.total,
        "refunded": 0,
        "order_amount": target.order_amount,
        "order_ref": target.order_ref,
        "scope": target.context.scope,
        "created_by_kind": target.by.kind,
        "created_by_scope": target.by.scope_id,
        "created_at": now,
        "hold_expires_at": now + timedelta(seconds=ttl_s),
        "settled_at": now if settled else None,
    }
    redemption_id = str(row["redemption_id"])
    session.exec(_INSERT_REDEMPTION, params=row)
    session.exec(
        _INSERT_LINE,
        params=[
            {"redemption_id": redemption_id, "grant_id": lot.grant_id, "amount": p, "refunded": 0}
            for lot, p in use.plan
        ],
    )
    ledger.open_new_account(session, ledger.hold_account(redemption_id))
    return RedemptionView(
        redemption_id=redemption_id,
        benefit_id=use.benefit.benefit_id,
        customer_id=target.customer_id,
        status=str(row["status"]),
        amount=use.total,
        refunded=0,
        order_amount=target.order_amount,
        order_ref=target.order_ref,
        scope=target.context.scope,
        created_at=now,
        hold_expires_at=now + timedelta(seconds=ttl_s),
        grant_ids=sorted(lot.grant_id for lot, _ in use.plan),
    )


def _hold_entry(use: Use, redemption: RedemptionView) -> ledger.Entry:
    return ledger.Entry(
        "hold",
        redemption.redemption_id,
        [(ledger.grant_account(lot.grant_id), -p) for lot, p in use.plan]
        + [(ledger.hold_account(redemption.redemption_id), use.total)],
    )


def hold_in(
    session: Session, *, target: Target, ttl_s: int, now: datetime, limits: RiskLimits
) -> RedemptionView:
    """Move value from the customer's lots to a hold account (claiming a claimable coupon if needed)."""
    use = plan_use(session, target=target, now=now, limits=limits)
    if use.single_use:
        _set_lot_status(session, use, "held")
    redemption = _write_redemption(session, use, target=target, ttl_s=ttl_s, now=now, settled=False)
    ledger.post_entries(session, [_hold_entry(use, redemption)], now=now)
    return redemption


def redeem_in(session: Session, *, target: Target, now: datetime, limits: RiskLimits) -> RedemptionView:
    """Hold and confirm in one step: the same entries as `hold_in` then `settle_in` (hold, confirm,
    a single-use coupon's leftover back to the budget), from what was read once, each account's
    balance updated once (the hold account's nets to zero) and no row re-read or updated after
    it was written."""
    use = plan_use(session, target=target, now=now, limits=limits)
    redemption = _write_redemption(session, use, target=target, ttl_s=60, now=now, settled=True)
    rid, total, benefit_id = redemption.redemption_id, use.total, use.benefit.benefit_id
    entries = [
        _hold_entry(use, redemption),
        ledger.Entry(
            "confirm",
            rid,
            [(ledger.hold_account(rid), -total), (ledger.redeemed_account(benefit_id), total)],
        ),
    ]
    if use.single_use:
        lot, taken = use.plan[0]
        leftover = lot.balance - taken
        grant = ledger.grant_account(lot.grant_id)
        entries.append(
            ledger.Entry(
                "coupon_leftover",
                lot.grant_id,
                [(grant, -leftover), (ledger.budget_account(benefit_id), leftover)],
            )
        )
        _set_lot_status(session, use, "used")
    record_event(
        session,
        "benefits.redemption.confirmed",
        to_proto(events_pb2.RedemptionConfirmed, redemption, occurred_at=now),
    )
    # last: the balance updates (the benefit's redeemed account is shared by all its redemptions)
    ledger.post_entries(session, entries, now=now)
    return redemption


def lines_of(session: Session, redemption_id: str) -> list[RedemptionLine]:
    stmt = select(RedemptionLine).where(RedemptionLine.redemption_id == redemption_id)
    return list(session.exec(stmt.order_by(col(RedemptionLine.grant_id))))


def return_account(grant: Grant) -> str:
    """Where value coming back to a lot goes: the lot, or the sink/budget if the lot is closed."""
    if grant.status == "expired":
        return ledger.expired_account(grant.benefit_id)
    if grant.status == "revoked":
        return ledger.budget_account(grant.benefit_id)
    return ledger.grant_account(grant.grant_id)


def settle_in(session: Session, *, redemption: Redemption, now: datetime) -> None:
    """Confirm a hold: the value is redeemed; a single-use coupon's leftover returns to the budget."""
    benefit = load_benefit(session, redemption.benefit_id)
    ledger.post_entry(
        session,
        kind="confirm",
        reference=redemption.redemption_id,
        now=now,
        lines=[
            (ledger.hold_account(redemption.redemption_id), -redemption.amount),
            (ledger.redeemed_account(benefit.benefit_id), redemption.amount),
        ],
    )
    if benefit.kind in SINGLE_USE_KINDS:
        line = lines_of(session, redemption.redemption_id)[0]
        grant = locked(session, Grant, line.grant_id)
        assert grant is not None
        leftover = ledger.balance_of(session, ledger.grant_account(grant.grant_id))
        ledger.post_entry(
            session,
            kind="coupon_leftover",
            reference=grant.grant_id,
            now=now,
            lines=[
                (ledger.grant_account(grant.grant_id), -leftover),
                (ledger.budget_account(benefit.benefit_id), leftover),
            ],
        )
        grant.status = "used"
        session.add(grant)
    redemption.status, redemption.settled_at = "confirmed", now
    session.add(redemption)
    record_event(
        session,
        "benefits.redemption.confirmed",
        to_proto(events_pb2.RedemptionConfirmed, redemption, occurred_at=now),
    )


def release_in(session: Session, *, redemption: Redemption, status: str, now: datetime) -> None:
    """Cancel or time out a hold: the held value goes back to its lots."""
    lines = lines_of(session, redemption.redemption_id)
    grants = [locked(session, Grant, line.grant_id) for line in lines]
    back = []
    for line, grant in zip(lines, grants, strict=True):
        assert grant is not None
        back.append((return_account(grant), line.amount))
        if grant.status == "held":
            grant.status = "active"
            session.add(grant)
    ledger.post_entry(
        session,
        kind=status,
        reference=redemption.redemption_id,
        now=now,
        lines=[(ledger.hold_account(redemption.redemption_id), -redemption.amount), *back],
    )
    redemption.status, redemption.settled_at = status, now
    session.add(redemption)
