"""Where a benefit may be used, who may get it, and the bounded counters behind limits and velocity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, update

from services.benefits.models import Benefit, PartnerBlock, UsageCounter
from services.runtime.db import insert_ignore
from services.runtime.errors import InvalidInput, Rejected

_SLUG = r"[a-z][a-z0-9_-]{1,39}"
SCOPE = re.compile(rf"^(app:(\*|{_SLUG})|partner:(\*|{_SLUG})(:[a-z0-9_-]{{1,40}})?)$")
BANK_CHANNELS = ("reach:", "ops:")


@dataclass(frozen=True)
class Context:
    """Where a customer acts: an app, or a partner's scene."""

    app_id: str = ""
    partner_id: str = ""
    scene: str = ""
    device_id: str = ""
    edition: str = ""
    assurance_level: int = 0

    @property
    def scope(self) -> str:
        if self.partner_id:
            return f"partner:{self.partner_id}" + (f":{self.scene}" if self.scene else "")
        return f"app:{self.app_id}" if self.app_id else ""


@dataclass(frozen=True)
class RiskLimits:
    """Marketing anti-abuse velocity limits on customer claims (0 disables one)."""

    device_claims_per_hour: int = 10
    customer_claims_per_hour: int = 20


DEFAULT_LIMITS = RiskLimits()


def is_usable(usable_scopes: list[str], scope: str) -> bool:
    """True when a scope such as `partner:p1:ride` falls under one of the benefit's usable scopes."""
    if not scope:
        return False
    kind = scope.split(":", 1)[0]
    for allowed in usable_scopes:
        if allowed == f"{kind}:*" or scope == allowed or scope.startswith(allowed + ":"):
            return True
    return False


def check_scopes(scopes: list[str]) -> None:
    bad = [s for s in scopes if not SCOPE.match(s)]
    if bad or not scopes:
        raise InvalidInput(
            "invalid_usable_scopes", "usable scopes look like app:<id>, partner:<id>[:<scene>] or *"
        )


def partner_blocked(session: Session, *, customer_id: str, partner_id: str) -> bool:
    return bool(partner_id) and session.get(PartnerBlock, (customer_id, partner_id)) is not None


def require_usable(session: Session, *, benefit: Benefit, customer_id: str, context: Context) -> None:
    """Refuse use outside the benefit's scopes or in a partner scene without consent."""
    if not context.scope:
        raise InvalidInput("context_required", "an app or a partner scene is required")
    if partner_blocked(session, customer_id=customer_id, partner_id=context.partner_id):
        raise Rejected("consent_withdrawn", "the customer withdrew consent for this partner")
    if not is_usable(benefit.usable_scopes, context.scope):
        raise Rejected("not_usable_here", f"{benefit.benefit_id} cannot be used in {context.scope}")


def require_live(benefit: Benefit) -> None:
    """Paused and stopped benefits are neither granted nor redeemed."""
    if benefit.status in ("paused", "stopped"):
        raise Rejected(f"benefit_{benefit.status}", f"{benefit.benefit_id} is {benefit.status}")
    if benefit.status != "approved":
        raise Rejected("not_eligible", f"{benefit.benefit_id} is not an approved benefit")


def require_valid(benefit: Benefit, now: datetime) -> None:
    require_live(benefit)
    if benefit.valid_from and now < benefit.valid_from:
        raise Rejected("not_eligible", f"{benefit.benefit_id} is not valid yet")
    if benefit.valid_until and now >= benefit.valid_until:
        raise Rejected("expired", f"{benefit.benefit_id} is no longer valid")


def require_eligible(benefit: Benefit, *, context: Context, channel: str) -> None:
    """Apps always; claims by customers also need the edition, assurance level and a claimable benefit."""
    if benefit.eligible_apps and context.app_id not in benefit.eligible_apps:
        raise Rejected("not_eligible", f"{benefit.benefit_id} is not offered in this app")
    if channel.startswith(BANK_CHANNELS):
        return
    if not benefit.claimable:
        raise Rejected("not_eligible", f"{benefit.benefit_id} cannot be claimed")
    if benefit.eligible_editions and context.edition not in benefit.eligible_editions:
        raise Rejected("not_eligible", f"{benefit.benefit_id} is not offered in this edition")
    if context.assurance_level < benefit.min_assurance_level:
        raise Rejected(
            "not_eligible", f"{benefit.benefit_id} needs assurance level {benefit.min_assurance_level}"
        )


def take(session: Session, *, key: str, amount: int, limit: int, reason: str, detail: str) -> None:
    """Count `amount` against a bounded counter atomically, or refuse with `reason`."""
    insert_ignore(session, UsageCounter, counter_key=key, used=0)
    result = session.exec(
        update(UsageCounter)
        .where(col(UsageCounter.counter_key) == key)
        .where(col(UsageCounter.used) + amount <= limit)
        .values(used=col(UsageCounter.used) + amount)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Rejected(reason, detail)


def take_grant_quotas(
    session: Session,
    *,
    benefit: Benefit,
    customer_id: str,
    context: Context,
    channel: str,
    limits: RiskLimits,
    now: datetime,
) -> None:
    """Per-customer limit (across all apps and partners), daily budget and claim velocity, in key order."""
    hour = now.strftime("%Y%m%d%H")
    quotas: list[tuple[str, int, int, str, str]] = []
    if benefit.per_customer_limit:
        quotas.append(
            (
                f"customer:{customer_id}:{benefit.benefit_id}",
                1,
                benefit.per_customer_limit,
                "limit_exceeded",
                "the per-customer limit of this benefit is reached",
            )
        )
    if benefit.daily_budget:
        quotas.append(
            (
                f"daily:{benefit.benefit_id}:{now.date().isoformat()}",
                benefit.face_value,
                benefit.daily_budget,
                "budget_exhausted",
                "today's budget of this benefit is spent",
            )
        )
    if not channel.startswith(BANK_CHANNELS):
        if context.device_id and limits.device_claims_per_hour:
            quotas.append(
                (
                    f"device:{context.device_id}:{hour}",
                    1,
                    limits.device_claims_per_hour,
                    "limit_exceeded",
                    "too many claims from this device",
                )
            )
        if limits.customer_claims_per_hour:
            quotas.append(
                (
                    f"claims:{customer_id}:{hour}",
                    1,
                    limits.customer_claims_per_hour,
                    "limit_exceeded",
                    "too many claims by this customer",
                )
            )
    for key, amount, limit, reason, detail in sorted(quotas):
        take(session, key=key, amount=amount, limit=limit, reason=reason, detail=detail)
