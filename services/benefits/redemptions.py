"""Redemption operations: reserve -> confirm | cancel, redeem in one step, refund; all idempotent."""

from __future__ import annotations

import uuid

from lattice.benefits.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.benefits import ledger
from services.benefits.holds import (
    hold_in,
    lines_of,
    redeem_in,
    release_in,
    return_account,
    settle_in,
)
from services.benefits.models import Grant, Redemption, RedemptionRefund
from services.benefits.principals import Principal, owns, require_principal
from services.benefits.rules import DEFAULT_LIMITS, RiskLimits
from services.benefits.uses import Target
from services.benefits.views import RedemptionView
from services.runtime.clock import utcnow
from services.runtime.db import read_session
from services.runtime.errors import Conflict, InvalidInput, NotFound
from services.runtime.idempotency import run_once
from services.runtime.outbox import record_event
from services.runtime.proto_mapping import to_proto

MAX_TTL_S = 24 * 3600
Outcome = tuple[RedemptionView, bool]


def _view(session: Session, redemption: Redemption, *, refunded_now: int = 0) -> RedemptionView:
    grant_ids = [line.grant_id for line in lines_of(session, redemption.redemption_id)]
    return RedemptionView.of(redemption, grant_ids, refunded_now=refunded_now)


def _target_request(op: str, target: Target, **extra: object) -> dict[str, object]:
    fields = {k: v for k, v in target.__dict__.items() if k not in ("customer_id", "context")}
    return {"op": op, **fields, "context": target.context.__dict__, **extra}


def _own(
    session: Session, redemption_id: str, customer_id: str, by: Principal, *, lock: bool = True
) -> Redemption:
    """The redemption, only for its customer acting through the same app or partner that made it."""
    require_principal(by)
    redemption = (
        ledger.locked(session, Redemption, redemption_id) if lock else session.get(Redemption, redemption_id)
    )
    if (
        redemption is None
        or redemption.customer_id != customer_id
        or not owns(by, kind=redemption.created_by_kind, scope_id=redemption.created_by_scope)
    ):
        raise NotFound("redemption_not_found", f"no redemption {redemption_id}")
    return redemption


def reserve_benefit(
    *, engine: Engine, target: Target, ttl_s: int, idempotency_key: str, limits: RiskLimits = DEFAULT_LIMITS
) -> Outcome:
    """Hold value for `ttl_s` seconds; confirm or cancel it, or it is released after the TTL."""
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise InvalidInput("invalid_ttl", f"ttl_seconds must be 1..{MAX_TTL_S}")

    def apply(session: Session) -> RedemptionView:
        return hold_in(session, target=target, ttl_s=ttl_s, now=utcnow(), limits=limits)

    return run_once(
        engine,
        scope=target.customer_id,
        key=idempotency_key,
        request=_target_request("reserve", target, ttl=ttl_s),
        apply=apply,
        result_type=RedemptionView,
    )


def redeem_benefit(
    *, engine: Engine, target: Target, idempotency_key: str, limits: RiskLimits = DEFAULT_LIMITS
) -> Outcome:
    """Take and confirm in one step (claiming a claimable coupon first if the wallet has none)."""

    def apply(session: Session) -> RedemptionView:
        return redeem_in(session, target=target, now=utcnow(), limits=limits)

    return run_once(
        engine,
        scope=target.customer_id,
        key=idempotency_key,
        request=_target_request("redeem", target),
        apply=apply,
        result_type=RedemptionView,
    )


def confirm_redemption(
    *, engine: Engine, redemption_id: str, customer_id: str, by: Principal, idempotency_key: str
) -> Outcome:
    """Confirm a hold; after its TTL the hold is released instead and the answer is `hold_expired`."""

    def apply(session: Session) -> RedemptionView:
        now = utcnow()
        redemption = _own(session, redemption_id, customer_id, by)
        if redemption.status == "held":
            if redemption.hold_expires_at and now >= redemption.hold_expires_at:
                release_in(session, redemption=redemption, status="released", now=now)
            else:
                settle_in(session, redemption=redemption, now=now)
        return _view(session, redemption)

    view, replayed = run_once(
        engine,
        scope=customer_id,
        key=idempotency_key,
        request={"op": "confirm", "redemption": redemption_id},
        apply=apply,
        result_type=RedemptionView,
    )
    if view.status != "confirmed":
        reason = "hold_expired" if view.status == "released" else "hold_cancelled"
        raise Conflict(reason, f"the hold is {view.status} and can no longer be confirmed")
    return view, replayed


def cancel_redemption(
    *, engine: Engine, redemption_id: str, customer_id: str, by: Principal, idempotency_key: str
) -> Outcome:
    """Cancel a hold: the value goes back to the customer's lots."""

    def apply(session: Session) -> RedemptionView:
        redemption = _own(session, redemption_id, customer_id, by)
        if redemption.status == "confirmed":
            raise Conflict("already_confirmed", "a confirmed redemption is refunded, not cancelled")
        if redemption.status == "held":
            release_in(session, redemption=redemption, status="cancelled", now=utcnow())
        return _view(session, redemption)

    return run_once(
        engine,
        scope=customer_id,
        key=idempotency_key,
        request={"op": "cancel", "redemption": redemption_id},
        apply=apply,
        result_type=RedemptionView,
    )


def refund_redemption(
    *,
    engine: Engine,
    redemption_id: str,
    customer_id: str,
    by: Principal,
    amount: int,
    ratio_bps: int,
    idempotency_key: str,
) -> Outcome:
    """Give back all or part of a confirmed redemption (an amount, or a share in basis points)."""
    if (amount > 0) == (ratio_bps > 0) or amount < 0 or not 0 <= ratio_bps <= 10_000:
        raise InvalidInput("invalid_refund", "give either a positive amount or ratio_bps in 1..10000")

    def apply(session: Session) -> RedemptionView:
        now = utcnow()
        redemption = _own(session, redemption_id, customer_id, by)
        if redemption.status != "confirmed":
            raise Conflict("not_confirmed", f"the redemption is {redemption.status}")
        wanted = amount or redemption.amount * ratio_bps // 10_000
        if wanted <= 0:
            raise InvalidInput("invalid_refund", "the refund would be worth nothing")
        if wanted > redemption.amount - redemption.refunded:
            raise Conflict("refund_exceeds_redemption", "more than what is left to refund")
        left, back = wanted, []
        for line in lines_of(session, redemption_id):
            part = min(line.amount - line.refunded, left)
            if part <= 0:
                continue
            grant = ledger.locked(session, Grant, line.grant_id)
            assert grant is not None
            back.append((return_account(grant), part))
            if grant.status == "used":
                grant.status = "active"
                session.add(grant)
            line.refunded += part
            session.add(line)
            left -= part
        ledger.post_entry(
            session,
            kind="refund",
            reference=redemption_id,
            now=now,
            lines=[(ledger.redeemed_account(redemption.benefit_id), -wanted), *back],
        )
        redemption.refunded += wanted
        session.add(redemption)
        session.add(
            RedemptionRefund(
                refund_id=uuid.uuid4().hex,
                redemption_id=redemption_id,
                amount=wanted,
                created_by_kind=by.kind,
                created_by_scope=by.scope_id,
                created_at=now,
            )
        )
        record_event(
            session,
            "benefits.redemption.refunded",
            to_proto(
                events_pb2.RedemptionRefunded,
                redemption,
                amount=wanted,  # this refund's, not the redemption's
                total_refunded=redemption.refunded,
                occurred_at=now,
            ),
        )
        return _view(session, redemption, refunded_now=wanted)

    return run_once(
        engine,
        scope=customer_id,
        key=idempotency_key,
        request={"op": "refund", "redemption": redemption_id, "amount": amount, "bps": ratio_bps},
        apply=apply,
        result_type=RedemptionView,
    )


def get_redemption(*, engine: Engine, redemption_id: str, customer_id: str, by: Principal) -> RedemptionView:
    with read_session(engine) as session:
        return _view(session, _own(session, redemption_id, customer_id, by, lock=False))
