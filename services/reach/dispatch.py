"""The delivery rules, applied when a delivery is due: consent, quiet hours, caps, budget, expiry.

A delivery is claimed in one write transaction (BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL)
that also counts it against the caps, so concurrent dispatchers can never exceed a cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from services.reach import counters
from services.reach.matching import cached_spec
from services.reach.models import AudienceProfile, Delivery, Strategy
from services.reach.policy import (
    DeliveryPolicy,
    customer_zone,
    load_policy,
    local_day,
    opted_in,
    quiet_release_at,
)
from services.reach.spec import StrategySpec, Touchpoint

SENDING_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class SendPlan:
    """A claimed delivery: where it goes and what it says."""

    delivery_id: str
    strategy_id: str
    customer_id: str
    touchpoint: Touchpoint
    app_id: str
    spec: StrategySpec
    variables: Mapping[str, str]
    edition: str
    recipient: str
    valid_until: datetime
    trigger_key: str


def _close(delivery: Delivery, status: str, reason: str) -> None:
    delivery.status, delivery.reason, delivery.claimed_at = status, reason, None


def _first_reachable(
    session: Session, *, delivery: Delivery, spec: StrategySpec, partner_ids: Mapping[str, str]
) -> tuple[list[Touchpoint], str]:
    """Touchpoints in fallback order that have consent and an address; and the first refusal."""
    usable: list[Touchpoint] = []
    first_refusal = ""
    for touchpoint in spec.touchpoints:
        refusal = ""
        if touchpoint.channel == "partner" and not partner_ids.get(touchpoint.partner_id):
            refusal = "no_partner_link"
        elif spec.kind == "marketing" and not opted_in(
            session, customer_id=delivery.customer_id, channel=touchpoint.channel, purpose=spec.purpose
        ):
            refusal = "no_consent"
        if refusal:
            first_refusal = first_refusal or refusal
        else:
            usable.append(touchpoint)
    return usable, first_refusal


def _count(
    session: Session, *, delivery: Delivery, candidates: list[Touchpoint], policy: DeliveryPolicy, day: str
) -> tuple[Touchpoint | None, str]:
    """Take the first channel whose daily cap allows it, then the customer's daily budget."""
    for touchpoint in candidates:
        cap = policy.rule(touchpoint.channel).daily_cap
        if not counters.take(
            session, customer_id=delivery.customer_id, channel=touchpoint.channel, day=day, cap=cap
        ):
            continue
        if not counters.take(
            session,
            customer_id=delivery.customer_id,
            channel=counters.ALL_CHANNELS,
            day=day,
            cap=policy.daily_contact_budget,
        ):
            counters.give_back(session, customer_id=delivery.customer_id, channel=touchpoint.channel, day=day)
            return None, "contact_budget_exhausted"
        return touchpoint, ""
    return None, "frequency_capped"


def _recipient(delivery: Delivery, touchpoint: Touchpoint, partner_ids: Mapping[str, str]) -> str:
    # A partner only ever learns the pairwise id, never the bank's customer id.
    return partner_ids[touchpoint.partner_id] if touchpoint.channel == "partner" else delivery.customer_id


def _target_app(delivery: Delivery, touchpoint: Touchpoint, profile: AudienceProfile | None) -> str:
    if touchpoint.app_id:
        return touchpoint.app_id
    if delivery.app_id:
        return delivery.app_id
    return profile.apps[0] if profile and profile.apps else ""


def claim(
    session: Session, *, delivery_id: str, now: datetime, partner_ids: Mapping[str, str]
) -> SendPlan | None:
    """Decide a due delivery: hold it, drop it, suppress it, or claim it for sending (and count it).

    The delivery's row is locked first: on PostgreSQL two replicas (or a replica's trigger path and its
    scheduler) may claim the same delivery at once, and without the lock both would count a contact
    and the later commit would hide the first (SQLite's BEGIN IMMEDIATE already serialises them).
    """
    delivery = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None:
        return None
    stale = (
        delivery.status == "sending"
        and delivery.claimed_at is not None
        and now - delivery.claimed_at > SENDING_LEASE
    )
    if not stale and (delivery.status not in ("pending", "held") or delivery.not_before > now):
        return None
    strategy = session.get(Strategy, delivery.strategy_id)
    assert strategy is not None
    spec = cached_spec(strategy)
    profile = session.get(AudienceProfile, delivery.customer_id)
    policy = load_policy(session)
    if strategy.status in ("paused", "ended"):
        _close(delivery, "dropped", f"strategy_{strategy.status}")
        session.add(delivery)
        return None
    if now >= delivery.valid_until:
        _close(delivery, "dropped", "expired")
        session.add(delivery)
        return None
    chosen: Touchpoint | None
    if delivery.counted_day:
        # Already counted by an earlier attempt: resend on the same channel, never count twice.
        chosen = next((t for t in spec.touchpoints if t.channel == delivery.channel), spec.touchpoints[0])
        if chosen.channel == "partner" and not partner_ids.get(chosen.partner_id):
            _close(delivery, "failed", "no_partner_link")
            session.add(delivery)
            return None
    else:
        chosen = _choose(
            session,
            delivery=delivery,
            spec=spec,
            profile=profile,
            policy=policy,
            now=now,
            partner_ids=partner_ids,
        )
        if chosen is None:
            session.add(delivery)
            return None
    delivery.status, delivery.reason, delivery.channel = "sending", "", chosen.channel
    delivery.claimed_at, delivery.sent_at = now, delivery.sent_at or now
    delivery.attempts += 1
    if spec.benefit_id and not delivery.action_state:
        delivery.action_state = "pending"
    session.add(delivery)
    return SendPlan(
        delivery_id=delivery.delivery_id,
        strategy_id=strategy.strategy_id,
        customer_id=delivery.customer_id,
        touchpoint=chosen,
        app_id=_target_app(delivery, chosen, profile),
        spec=spec,
        variables=dict(delivery.variables),
        edition=(profile.editions[0] if profile and profile.editions else ""),
        recipient=_recipient(delivery, chosen, partner_ids),
        valid_until=delivery.valid_until,
        trigger_key=delivery.trigger_key,
    )


def _choose(
    session: Session,
    *,
    delivery: Delivery,
    spec: StrategySpec,
    profile: AudienceProfile | None,
    policy: DeliveryPolicy,
    now: datetime,
    partner_ids: Mapping[str, str],
) -> Touchpoint | None:
    """Apply consent, quiet hours, caps and budget; None when the delivery was held or closed."""
    tz = customer_zone(policy, profile.time_zone if profile else "")
    if spec.kind == "transactional":
        usable, refusal = _first_reachable(session, delivery=delivery, spec=spec, partner_ids=partner_ids)
        if not usable:
            _close(delivery, "suppressed", refusal)
            return None
        delivery.counted_day = local_day(now, tz)
        return usable[0]
    usable, refusal = _first_reachable(session, delivery=delivery, spec=spec, partner_ids=partner_ids)
    if not usable:
        _close(delivery, "suppressed", refusal)
        return None
    if usable[0].channel in policy.quiet_channels:
        release = quiet_release_at(policy, tz=tz, now=now)
        if release is not None:
            if release >= delivery.valid_until:
                _close(delivery, "dropped", "expired_in_quiet_hours")
            else:
                _close(delivery, "held", "quiet_hours")
                delivery.not_before = delivery.held_until = release
            return None
    day = local_day(now, tz)
    chosen, refusal = _count(session, delivery=delivery, candidates=usable, policy=policy, day=day)
    if chosen is None:
        _close(delivery, "suppressed", refusal)
        return None
    delivery.counted_day = day
    return chosen


def finish(
    session: Session,
    *,
    delivery_id: str,
    delivered: bool,
    reason: str,
    now: datetime,
    retry_in: timedelta | None,
) -> Delivery | None:
    """Record the provider's answer: delivered, or back to pending for a retry, or failed."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None or delivery.status != "sending":
        return None
    if delivered:
        delivery.status, delivery.reason, delivery.delivered_at = "delivered", "", now
    elif retry_in is not None and now + retry_in < delivery.valid_until:
        delivery.status, delivery.reason, delivery.not_before = "pending", reason, now + retry_in
    else:
        delivery.status, delivery.reason = "failed", reason
    delivery.claimed_at = None
    session.add(delivery)
    return delivery


def postpone(session: Session, *, delivery_id: str, reason: str, until: datetime) -> str:
    """A dependency could not be asked: try this waiting delivery again later."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None:
        return "unknown"
    if delivery.status in ("pending", "held"):
        delivery.reason, delivery.not_before = reason, max(delivery.not_before, until)
        session.add(delivery)
    return delivery.status
