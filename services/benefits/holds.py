"""Taking value from a customer's lots: holds, their settlement and their release (session level)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lattice.benefits.v1 import events_pb2
from sqlmodel import Session, col, select

from services.benefits import ledger
from services.benefits.ledger import locked
from services.benefits.models import SINGLE_USE_KINDS, Benefit, Grant, Redemption, RedemptionLine
from services.benefits.principals import Principal, require_acting_here
from services.benefits.rules import Context, RiskLimits, require_live, require_usable
from services.benefits.wallet import grant_in, load_benefit
from services.runtime.errors import InvalidInput, Rejected
from services.runtime.outbox import record_event
from services.runtime.proto_mapping import to_proto


@dataclass(frozen=True)
class Target:
    """What a customer wants to use, where, and on which order."""

    customer_id: str
    benefit_id: str
    grant_id: str = ""
    amount: int = 0
    order_amount: int = 0
    order_ref: str = ""
    context: Context = field(default_factory=Context)
    by: Principal = field(default_factory=lambda: Principal(kind=""))


def _usable_lots(
    session: Session, benefit: Benefit, target: Target, now: datetime
) -> list[tuple[Grant, int]]:
    """Spendable lots, earliest-expiring first (rows locked in id order to avoid deadlocks)."""
    stmt = select(Grant).where(
        Grant.customer_id == target.customer_id,
        Grant.benefit_id == benefit.benefit_id,
        Grant.status == "active",
    )
    if target.grant_id:
        stmt = stmt.where(Grant.grant_id == target.grant_id)
    grants = list(session.exec(stmt.order_by(col(Grant.grant_id)).with_for_update()))
    live = [g for g in grants if g.available_at <= now < g.expires_at]
    balances = ledger.balances_of(session, [ledger.grant_account(g.grant_id) for g in live])
    lots = [(g, balances.get(ledger.grant_account(g.grant_id), 0)) for g in live]
    return sorted([lot for lot in lots if lot[1] > 0], key=lambda lot: (lot[0].expires_at, lot[0].grant_id))


def _nothing_usable(session: Session, benefit: Benefit, target: Target, now: datetime) -> Rejected:
    grants = session.exec(
        select(Grant).where(Grant.customer_id == target.customer_id, Grant.benefit_id == benefit.benefit_id)
    ).all()
    if any(g.status == "expired" or (g.status == "active" and g.expires_at <= now) for g in grants):
        return Rejected("expired", f"the customer's {benefit.benefit_id} has expired")
    if any(g.status == "active" and g.available_at > now for g in grants):
        return Rejected("not_eligible", "these points are still pending")
    return Rejected("not_eligible", f"the customer holds no usable {benefit.benefit_id}")


def _coupon_take(benefit: Benefit, target: Target, balance: int) -> int:
    if target.order_amount < benefit.min_order_amount:
        raise Rejected("not_eligible", f"the order must be at least {benefit.min_order_amount}")
    if benefit.kind == "discount_coupon":
        if target.order_amount <= 0:
            raise InvalidInput("order_amount_required", "a discount coupon needs the order amount")
        return min(target.order_amount * benefit.discount_bps // 10_000, balance)
    if benefit.kind == "rate_coupon":
        if target.amount <= 0:
            raise InvalidInput("amount_required", "a rate coupon needs the interest amount to cover")
        return min(target.amount, balance)
    return min(balance, target.order_amount) if target.order_amount > 0 else balance


def _check_stacking(session: Session, benefit: Benefit, target: Target) -> None:
    if not target.order_ref:
        return
    others = session.exec(
        select(Benefit.stackable)
        .join(Redemption, col(Redemption.benefit_id) == col(Benefit.benefit_id))
        .where(
            Redemption.customer_id == target.customer_id,
            Redemption.order_ref == target.order_ref,
            col(Redemption.status).in_(("held", "confirmed")),
            Redemption.benefit_id != benefit.benefit_id,
        )
    ).all()
    if others and not (benefit.stackable and all(others)):
        raise Rejected("not_stackable", "this benefit cannot be combined with the others on this order")


def hold_in(session: Session, *, target: Target, ttl_s: int, now: datetime, limits: RiskLimits) -> Redemption:
    """Move value from the customer's lots to a hold account (claiming a claimable coupon if needed)."""
    require_acting_here(target.by, target.context)
    benefit = load_benefit(session, target.benefit_id)
    require_live(benefit)
    require_usable(session, benefit=benefit, customer_id=target.customer_id, context=target.context)
    _check_stacking(session, benefit, target)
    lots = _usable_lots(session, benefit, target, now)
    if not lots and benefit.claimable and benefit.kind != "points" and not target.grant_id:
        grant = grant_in(
            session,
            benefit=benefit,
            customer_id=target.customer_id,
            context=target.context,
            channel="redeem",
            limits=limits,
            now=now,
            by=target.by,
        )
        lots = [(grant, grant.initial_amount)]
    if not lots:
        raise _nothing_usable(session, benefit, target, now)
    if benefit.kind in SINGLE_USE_KINDS:
        grant, balance = lots[0]
        plan = [(grant, _coupon_take(benefit, target, balance))]
        grant.status = "held"
        session.add(grant)
    else:
        need = target.amount or (1 if benefit.kind == "perk" else 0)
        if need <= 0:
            raise InvalidInput("amount_required", "say how many points or uses to spend")
        plan = []
        for grant, balance in lots:
            part = min(balance, need - sum(p for _, p in plan))
            if part > 0:
                plan.append((grant, part))
        if sum(p for _, p in plan) < need:
            raise Rejected("insufficient_balance", f"not enough {benefit.benefit_id} available")
    total = sum(p for _, p in plan)
    if total <= 0:
        raise InvalidInput("nothing_to_redeem", "the redemption would be worth nothing")
    redemption = Redemption(
        redemption_id=uuid.uuid4().hex,
        benefit_id=benefit.benefit_id,
        customer_id=target.customer_id,
        status="held",
        amount=total,
        order_amount=target.order_amount,
        order_ref=target.order_ref,
        scope=target.context.scope,
        created_by_kind=target.by.kind,
        created_by_scope=target.by.scope_id,
        created_at=now,
        hold_expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(redemption)
    session.add_all(
        RedemptionLine(redemption_id=redemption.redemption_id, grant_id=g.grant_id, amount=p) for g, p in plan
    )
    ledger.open_account(session, ledger.hold_account(redemption.redemption_id))
    ledger.post_entry(
        session,
        kind="hold",
        reference=redemption.redemption_id,
        now=now,
        lines=[(ledger.grant_account(g.grant_id), -p) for g, p in plan]
        + [(ledger.hold_account(redemption.redemption_id), total)],
    )
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
