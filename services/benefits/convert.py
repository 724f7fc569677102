"""Protobuf -> domain for the benefits API where a request is more than its fields; everything else maps
field for field by name through services.runtime.proto_mapping (from_proto / to_proto) where it is used."""

from __future__ import annotations

from lattice.benefits.v1 import benefits_pb2 as pb

from services.benefits.models import Benefit
from services.benefits.principals import Principal
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.runtime.clock import utcnow
from services.runtime.proto_mapping import enum_name, from_proto

KIND = pb.BenefitKind.DESCRIPTOR


def benefit_from_pb(b: pb.Benefit) -> Benefit:
    """A draft as the caller describes it: its review and its creation are the service's, not the caller's."""
    return from_proto(
        Benefit,
        b,
        kind=enum_name(KIND, b.kind) or "",  # unspecified: "", which the catalogue refuses as invalid_kind
        status="draft",
        drafted_by="",
        reviewed_by="",
        review_note="",
        created_at=utcnow(),
    )


def context_from_pb(c: pb.UsageContext, *, app_id: str = "", device_id: str = "") -> Context:
    """Where the customer acts; the request's own app and device stand in where the context names none."""
    return from_proto(Context, c, app_id=c.app_id or app_id, device_id=c.device_id or device_id)


def target_from_pb(t: pb.RedemptionTarget) -> Target:
    """What to redeem, by the target's principal (the domain calls it `by`)."""
    return from_proto(Target, t, by=from_proto(Principal, t.principal))
