"""A use of a benefit: what a customer wants to use (the target), the usable lots read under lock,
the checks and the plan of how much each lot gives (checked, not yet written; `holds` writes it)."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select as CoreSelect
from sqlalchemy import bindparam, literal
from sqlalchemy import select as core_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.benefits import ledger
from services.benefits.models import SINGLE_USE_KINDS, Benefit, Grant, LedgerAccount, Redemption
from services.benefits.principals import Principal, require_acting_here
from services.benefits.rules import Context, RiskLimits, require_live, require_usable
from services.benefits.wallet import grant_in, load_benefit
from services.runtime.errors import InvalidInput, NotFound, Rejected


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


@dataclass(frozen=True)
class Lot:
    """A spendable lot: its grant, when it expires, and its balance (read under the lock)."""

    grant_id: str
    expires_at: datetime
    balance: int


_GRANTS = ledger.table_of(Grant)
_BENEFITS = ledger.table_of(Benefit)
_ACCOUNTS = ledger.table_of(LedgerAccount)


def _lots_statement(*, one_grant: bool) -> CoreSelect[str, datetime, datetime, int, str]:
    g = _GRANTS.c
    stmt = (
        core_select(g.grant_id, g.available_at, g.expires_at, _ACCOUNTS.c.balance, _BENEFITS.c.status)
        .join(_ACCOUNTS, _ACCOUNTS.c.account_id == literal("grant:") + g.grant_id)
        # the benefit's status, read in the transaction that writes (a cached definition's state)
        .join(_BENEFITS, _BENEFITS.c.benefit_id == g.benefit_id)
        .where(
            g.customer_id == bindparam("customer"),
            g.benefit_id == bindparam("benefit"),
            g.status == "active",
        )
    )
    if one_grant:
        stmt = stmt.where(g.grant_id == bindparam("grant"))
    return stmt.order_by(g.grant_id).with_for_update(of=_GRANTS)


# built once: the statement's cache key is then not worked out again on every redemption
_LOTS = _lots_statement(one_grant=False)
_LOT = _lots_statement(one_grant=True)


def _usable_lots(
    session: Session, benefit: Benefit, target: Target, now: datetime
) -> tuple[list[Lot], str | None]:
    """Spendable lots, earliest-expiring first: the grants (rows locked in id order to avoid
    deadlocks) with their balances, in one statement; and the benefit's status as read by it
    (None when the customer has no active grant of it)."""
    params = {"customer": target.customer_id, "benefit": benefit.benefit_id, "grant": target.grant_id}
    # Core, on the session's connection (nothing of the ORM's is pending at this point)
    rows = session.connection().execute(_LOT if target.grant_id else _LOTS, params)
    lots, status = [], None
    for grant_id, available_at, expires_at, balance, benefit_status in rows:
        status = benefit_status
        if available_at <= now < expires_at and balance > 0:
            lots.append(Lot(grant_id, expires_at, balance))
    return sorted(lots, key=lambda lot: (lot.expires_at, lot.grant_id)), status


# Approved benefits' definitions, per database (engine) and benefit id. What a use reads of a
# definition (kind, scopes, stacking, claimability, coupon terms) is fixed once it is drafted; what
# changes after approval is its status (paused, stopped), its daily budget and its end date, and
# a use takes the status from the lots statement in its own transaction. Nothing to invalidate,
# then, in this process or in another replica.
_DEFINITIONS: weakref.WeakKeyDictionary[Engine, dict[str, Benefit]] = weakref.WeakKeyDictionary()
_DEFINITIONS_LOCK = threading.Lock()
_MAX_DEFINITIONS = 10_000


def _cached_definition(session: Session, benefit_id: str) -> Benefit | None:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _DEFINITIONS_LOCK:
        return _DEFINITIONS.get(engine, {}).get(benefit_id)


def _remember_definition(session: Session, benefit: Benefit) -> None:
    if benefit.status != "approved":
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    copy = Benefit(**{c.name: getattr(benefit, c.name) for c in _BENEFITS.columns})  # not in any session
    with _DEFINITIONS_LOCK:
        known = _DEFINITIONS.setdefault(engine, {})
        if len(known) >= _MAX_DEFINITIONS:
            known.clear()
        known[benefit.benefit_id] = copy


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


@dataclass
class Use:
    """What a hold or a redemption takes: from which lots how much (checked, not yet written)."""

    benefit: Benefit
    plan: list[tuple[Lot, int]]
    claimed: Grant | None  # a claimable coupon granted in this transaction (an ORM object)

    @property
    def total(self) -> int:
        return sum(p for _, p in self.plan)

    @property
    def single_use(self) -> bool:
        return self.benefit.kind in SINGLE_USE_KINDS


def plan_use(session: Session, *, target: Target, now: datetime, limits: RiskLimits) -> Use:
    """The checks of a use, then the lots it takes from (claiming a claimable coupon if needed).

    With the approved definition cached, the benefit is not read: the lots statement brings its
    status. Anything off the plain path (no usable lot, a claim, a refusal, a status other than
    approved) is decided again from a fresh read, so the answers are those of the fresh read."""
    require_acting_here(target.by, target.context)
    cached = _cached_definition(session, target.benefit_id)
    if cached is not None:
        try:
            use = _plan_with(session, cached, target=target, now=now, limits=limits, fresh=False)
        except (InvalidInput, NotFound, Rejected):
            use = None
        if use is not None:
            return use
    benefit = load_benefit(session, target.benefit_id)
    _remember_definition(session, benefit)
    use = _plan_with(session, benefit, target=target, now=now, limits=limits, fresh=True)
    assert use is not None
    return use


def _plan_with(
    session: Session, benefit: Benefit, *, target: Target, now: datetime, limits: RiskLimits, fresh: bool
) -> Use | None:
    """The plan from this definition; None (not fresh) when a fresh read must decide."""
    require_live(benefit)
    require_usable(session, benefit=benefit, customer_id=target.customer_id, context=target.context)
    _check_stacking(session, benefit, target)
    lots, status = _usable_lots(session, benefit, target, now)
    if not fresh and (not lots or status != "approved"):
        return None
    claimed = None
    if not lots and benefit.claimable and benefit.kind != "points" and not target.grant_id:
        claimed = grant_in(
            session,
            benefit=benefit,
            customer_id=target.customer_id,
            context=target.context,
            channel="redeem",
            limits=limits,
            now=now,
            by=target.by,
        )
        lots = [Lot(claimed.grant_id, claimed.expires_at, claimed.initial_amount)]
    if not lots:
        raise _nothing_usable(session, benefit, target, now)
    if benefit.kind in SINGLE_USE_KINDS:
        plan = [(lots[0], _coupon_take(benefit, target, lots[0].balance))]
    else:
        need = target.amount or (1 if benefit.kind == "perk" else 0)
        if need <= 0:
            raise InvalidInput("amount_required", "say how many points or uses to spend")
        plan, taken = [], 0
        for lot in lots:
            part = min(lot.balance, need - taken)
            if part > 0:
                plan.append((lot, part))
                taken += part
        if taken < need:
            raise Rejected("insufficient_balance", f"not enough {benefit.benefit_id} available")
    use = Use(benefit, plan, claimed)
    if use.total <= 0:
        raise InvalidInput("nothing_to_redeem", "the redemption would be worth nothing")
    return use
