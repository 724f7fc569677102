"""The shared wallet: grants (lots) of each customer, visible in every app and scene they are usable in."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from lattice.benefits.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.benefits import ledger
from services.benefits.audit import record
from services.benefits.models import Benefit, Grant, Redemption, RedemptionLine
from services.benefits.principals import (
    Principal,
    require_acting_here,
    require_grant_channel,
    require_operator,
)
from services.benefits.rules import (
    DEFAULT_LIMITS,
    Context,
    RiskLimits,
    is_usable,
    partner_blocked,
    require_eligible,
    require_valid,
    take_grant_quotas,
)
from services.benefits.views import GrantView, PointsView, WalletView
from services.runtime.clock import utcnow
from services.runtime.db import read_session
from services.runtime.errors import Conflict, NotFound, Rejected
from services.runtime.idempotency import run_once
from services.runtime.outbox import record_event
from services.runtime.proto_mapping import to_proto

LIVE = ("active", "held")


def load_benefit(session: Session, benefit_id: str) -> Benefit:
    benefit = session.get(Benefit, benefit_id)
    if benefit is None:
        raise NotFound("benefit_not_found", f"no benefit {benefit_id}")
    return benefit


def grant_in(
    session: Session,
    *,
    benefit: Benefit,
    customer_id: str,
    context: Context,
    channel: str,
    limits: RiskLimits,
    now: datetime,
    by: Principal,
) -> Grant:
    """Grant one lot inside the caller's transaction: eligibility, limits, budgets, ledger, event."""
    require_valid(benefit, now)
    require_eligible(benefit, context=context, channel=channel)
    if partner_blocked(session, customer_id=customer_id, partner_id=context.partner_id):
        raise Rejected("consent_withdrawn", "the customer withdrew consent for this partner")
    take_grant_quotas(
        session,
        benefit=benefit,
        customer_id=customer_id,
        context=context,
        channel=channel,
        limits=limits,
        now=now,
    )
    ends = [
        d
        for d in (
            benefit.valid_until,
            now + timedelta(days=benefit.valid_days) if benefit.valid_days else None,
        )
        if d
    ]
    grant = Grant(
        grant_id=uuid.uuid4().hex,
        benefit_id=benefit.benefit_id,
        customer_id=customer_id,
        initial_amount=benefit.face_value,
        app_id=context.app_id,
        channel=channel,
        created_by_kind=by.kind,
        created_by_scope=by.scope_id,
        granted_at=now,
        available_at=now + timedelta(days=benefit.pending_days),
        expires_at=min(ends),
    )
    session.add(grant)
    ledger.open_account(session, ledger.grant_account(grant.grant_id))
    ledger.post_entry(
        session,
        kind="grant",
        reference=grant.grant_id,
        lines=[
            (ledger.budget_account(benefit.benefit_id), -benefit.face_value),
            (ledger.grant_account(grant.grant_id), benefit.face_value),
        ],
        refusals={
            ledger.budget_account(benefit.benefit_id): Rejected("budget_exhausted", "the budget is spent")
        },
        now=now,
    )
    record_event(
        session,
        "benefits.grant.created",
        to_proto(events_pb2.GrantCreated, grant, amount=grant.initial_amount, occurred_at=now),
    )
    return grant


def grant_benefit(
    *,
    engine: Engine,
    customer_id: str,
    benefit_id: str,
    idempotency_key: str,
    context: Context,
    channel: str,
    by: Principal,
    limits: RiskLimits = DEFAULT_LIMITS,
) -> tuple[GrantView, bool]:
    """Grant a benefit once per idempotency key; returns (grant, replayed)."""
    require_grant_channel(by, channel)
    if by.kind in ("customer", "partner"):
        require_acting_here(by, context)
    request = {"op": "grant", "benefit": benefit_id, "channel": channel, "context": context.__dict__}

    def apply(session: Session) -> GrantView:
        now = utcnow()
        benefit = load_benefit(session, benefit_id)
        grant = grant_in(
            session,
            benefit=benefit,
            customer_id=customer_id,
            context=context,
            channel=channel,
            limits=limits,
            now=now,
            by=by,
        )
        return GrantView.of(
            grant,
            benefit,
            remaining=grant.initial_amount,
            usable=is_usable(benefit.usable_scopes, context.scope),
        )

    return run_once(
        engine, scope=customer_id, key=idempotency_key, request=request, apply=apply, result_type=GrantView
    )


def revoke_grant(*, engine: Engine, grant_id: str, by: Principal, idempotency_key: str) -> GrantView:
    """Take a grant back (an operator of its benefit's branch): its unused value returns to the budget."""
    require_operator(by)

    def apply(session: Session) -> GrantView:
        grant = ledger.locked(session, Grant, grant_id)
        benefit = session.get(Benefit, grant.benefit_id) if grant else None
        if grant is None or benefit is None or not by.sees_branch(benefit.branch):
            raise NotFound("grant_not_found", f"no grant {grant_id}")
        if grant.status == "held" or _held_by_grant(session, [grant_id]).get(grant_id):
            raise Conflict("grant_in_use", "the grant has a hold; cancel it first")
        if grant.status != "active":
            raise Conflict("grant_not_active", f"the grant is {grant.status}")
        left = ledger.balance_of(session, ledger.grant_account(grant_id))
        ledger.post_entry(
            session,
            kind="revoke",
            reference=grant_id,
            lines=[(ledger.grant_account(grant_id), -left), (ledger.budget_account(grant.benefit_id), left)],
        )
        grant.status = "revoked"
        session.add(grant)
        record(session, benefit_id=benefit.benefit_id, action="grant_revoked", by=by, detail=grant_id)
        return GrantView.of(grant, benefit, remaining=0)

    view, _ = run_once(
        engine,
        scope=f"ops:{by.actor_id}",
        key=idempotency_key,
        request={"op": "revoke", "grant": grant_id},
        apply=apply,
        result_type=GrantView,
    )
    return view


def _held_by_grant(session: Session, grant_ids: list[str]) -> dict[str, int]:
    if not grant_ids:
        return {}
    rows = session.exec(
        select(RedemptionLine.grant_id, RedemptionLine.amount)
        .join(Redemption, col(Redemption.redemption_id) == col(RedemptionLine.redemption_id))
        .where(col(RedemptionLine.grant_id).in_(grant_ids), Redemption.status == "held")
    )
    held: dict[str, int] = {}
    for grant_id, amount in rows:
        held[grant_id] = held.get(grant_id, 0) + amount
    return held


def get_wallet(
    *, engine: Engine, customer_id: str, context: Context, only_usable_here: bool, include_inactive: bool
) -> WalletView:
    """A customer's lots with balances; partners get only what is usable in their scenes."""
    now = utcnow()
    with read_session(engine) as session:
        stmt = select(Grant, Benefit).join(Benefit, col(Benefit.benefit_id) == col(Grant.benefit_id))
        stmt = stmt.where(Grant.customer_id == customer_id).order_by(
            col(Grant.expires_at), col(Grant.grant_id)
        )
        if not include_inactive:
            stmt = stmt.where(col(Grant.status).in_(LIVE), col(Grant.expires_at) > now)
        rows = list(session.exec(stmt.limit(500)))
        ids = [g.grant_id for g, _ in rows]
        balances = ledger.balances_of(session, [ledger.grant_account(i) for i in ids])
        held = _held_by_grant(session, ids)
        blocked = partner_blocked(session, customer_id=customer_id, partner_id=context.partner_id)
    grants: list[GrantView] = []
    points: dict[str, PointsView] = {}
    for grant, benefit in rows:
        usable = not blocked and is_usable(benefit.usable_scopes, context.scope)
        if only_usable_here and not usable:
            continue
        left = balances.get(ledger.grant_account(grant.grant_id), 0)
        grants.append(
            GrantView.of(grant, benefit, remaining=left, held=held.get(grant.grant_id, 0), usable=usable)
        )
        if benefit.kind == "points" and grant.status in LIVE and grant.expires_at > now:
            view = points.setdefault(benefit.benefit_id, PointsView(benefit_id=benefit.benefit_id))
            view.held += held.get(grant.grant_id, 0)
            if grant.available_at <= now:
                view.available += left
            else:
                view.pending += left
    return WalletView(grants=grants, points=list(points.values()))
