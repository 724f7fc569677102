"""Protobuf <-> domain for the benefits API."""

from __future__ import annotations

from lattice.benefits.v1 import benefits_pb2 as pb

from services.benefits.holds import Target
from services.benefits.models import Benefit, BenefitAudit, BenefitChange
from services.benefits.principals import Principal
from services.benefits.rules import Context
from services.benefits.views import GrantView, RedemptionView
from services.runtime.clock import from_timestamp, to_timestamp
from services.runtime.proto_enums import names_to_values

KIND_TO_PB = names_to_values(pb.BenefitKind, "BENEFIT_KIND_")
KIND_FROM_PB = {v: k for k, v in KIND_TO_PB.items()}


def benefit_from_pb(b: pb.Benefit) -> Benefit:
    return Benefit(
        benefit_id=b.benefit_id,
        name=b.name,
        kind=KIND_FROM_PB.get(b.kind, ""),
        funder=b.funder,
        branch=b.branch or None,
        face_value=b.face_value,
        discount_bps=b.discount_bps,
        rate_bps=b.rate_bps,
        min_order_amount=b.min_order_amount,
        eligible_apps=list(b.eligible_apps),
        eligible_editions=list(b.eligible_editions),
        min_assurance_level=b.min_assurance_level,
        usable_scopes=list(b.usable_scopes),
        valid_from=from_timestamp(b.valid_from),
        valid_until=from_timestamp(b.valid_until),
        valid_days=b.valid_days,
        pending_days=b.pending_days,
        total_budget=b.total_budget,
        daily_budget=b.daily_budget,
        per_customer_limit=b.per_customer_limit,
        stackable=b.stackable,
        claimable=b.claimable,
        drafted_by="",
    )


def benefit_to_pb(b: Benefit, budget_remaining: int) -> pb.Benefit:
    return pb.Benefit(
        benefit_id=b.benefit_id,
        name=b.name,
        kind=KIND_TO_PB.get(b.kind, pb.BENEFIT_KIND_UNSPECIFIED),
        funder=b.funder,
        branch=b.branch or "",
        face_value=b.face_value,
        discount_bps=b.discount_bps,
        rate_bps=b.rate_bps,
        min_order_amount=b.min_order_amount,
        eligible_apps=b.eligible_apps,
        eligible_editions=b.eligible_editions,
        min_assurance_level=b.min_assurance_level,
        usable_scopes=b.usable_scopes,
        valid_from=to_timestamp(b.valid_from),
        valid_until=to_timestamp(b.valid_until),
        valid_days=b.valid_days,
        pending_days=b.pending_days,
        total_budget=b.total_budget,
        daily_budget=b.daily_budget,
        per_customer_limit=b.per_customer_limit,
        stackable=b.stackable,
        claimable=b.claimable,
        status=b.status,
        drafted_by=b.drafted_by,
        reviewed_by=b.reviewed_by,
        review_note=b.review_note,
        budget_remaining=budget_remaining,
        created_at=to_timestamp(b.created_at),
    )


def context_from_pb(c: pb.UsageContext, *, app_id: str = "", device_id: str = "") -> Context:
    return Context(
        app_id=c.app_id or app_id,
        partner_id=c.partner_id,
        scene=c.scene,
        device_id=c.device_id or device_id,
        edition=c.edition,
        assurance_level=c.assurance_level,
    )


def target_from_pb(t: pb.RedemptionTarget) -> Target:
    return Target(
        customer_id=t.customer_id,
        benefit_id=t.benefit_id,
        grant_id=t.grant_id,
        amount=t.amount,
        order_amount=t.order_amount,
        order_ref=t.order_ref,
        context=context_from_pb(t.context),
        by=principal_from_pb(t.principal),
    )


def grant_to_pb(g: GrantView) -> pb.Grant:
    return pb.Grant(
        grant_id=g.grant_id,
        benefit_id=g.benefit_id,
        customer_id=g.customer_id,
        kind=KIND_TO_PB.get(g.kind, pb.BENEFIT_KIND_UNSPECIFIED),
        status=g.status,
        initial_amount=g.initial_amount,
        remaining=g.remaining,
        held=g.held,
        granted_at=to_timestamp(g.granted_at),
        available_at=to_timestamp(g.available_at),
        expires_at=to_timestamp(g.expires_at),
        channel=g.channel,
        benefit_name=g.benefit_name,
        usable_here=g.usable_here,
    )


def redemption_to_pb(r: RedemptionView) -> pb.Redemption:
    return pb.Redemption(
        redemption_id=r.redemption_id,
        benefit_id=r.benefit_id,
        customer_id=r.customer_id,
        status=r.status,
        amount=r.amount,
        refunded=r.refunded,
        order_amount=r.order_amount,
        order_ref=r.order_ref,
        scope=r.scope,
        created_at=to_timestamp(r.created_at),
        hold_expires_at=to_timestamp(r.hold_expires_at),
        grant_ids=r.grant_ids,
    )


def principal_from_pb(p: pb.Principal) -> Principal:
    return Principal(kind=p.kind, scope_id=p.scope_id, actor_id=p.actor_id)


def change_to_pb(c: BenefitChange) -> pb.BenefitChange:
    return pb.BenefitChange(
        change_id=c.change_id,
        benefit_id=c.benefit_id,
        kind=c.kind,
        total_budget_increase=c.total_budget_increase,
        daily_budget=c.daily_budget,
        valid_until=to_timestamp(c.valid_until),
        reason=c.reason,
        status=c.status,
        requested_by=c.requested_by,
        reviewed_by=c.reviewed_by,
        review_note=c.review_note,
        requested_at=to_timestamp(c.requested_at),
    )


def audit_to_pb(a: BenefitAudit) -> pb.AuditRecord:
    return pb.AuditRecord(
        action=a.action,
        actor_id=a.actor_id,
        actor_branch=a.actor_branch,
        reason=a.reason,
        detail=a.detail,
        at=to_timestamp(a.at),
    )
