"""Demo benefits for `make run`: a coffee coupon (claimable everywhere, 2 per customer) and points."""

from __future__ import annotations

from datetime import timedelta

import grpc
from lattice.benefits.v1 import benefits_pb2 as pb
from lattice.benefits.v1 import benefits_pb2_grpc

from services.runtime.clock import to_timestamp, utcnow

DEMO_BENEFITS = [
    pb.Benefit(
        benefit_id="coffee-5",
        name="5 off a coffee",
        kind=pb.BENEFIT_KIND_FIXED_COUPON,
        funder="dept:retail",
        face_value=500,
        total_budget=500_000,
        daily_budget=50_000,
        per_customer_limit=2,
        claimable=True,
        usable_scopes=["app:*", "partner:ride", "partner:food"],
        valid_days=30,
    ),
    pb.Benefit(
        benefit_id="ride-15pct",
        name="15% off a ride",
        kind=pb.BENEFIT_KIND_DISCOUNT_COUPON,
        funder="partner:ride",
        face_value=1_000,
        discount_bps=1_500,
        total_budget=200_000,
        per_customer_limit=1,
        claimable=True,
        usable_scopes=["partner:ride"],
        valid_days=14,
        min_assurance_level=2,
    ),
    pb.Benefit(
        benefit_id="life-points",
        name="Life points",
        kind=pb.BENEFIT_KIND_POINTS,
        funder="dept:marketing",
        face_value=1_000,
        total_budget=10_000_000,
        pending_days=0,
        usable_scopes=["app:*", "partner:food"],
        valid_days=365,
    ),
]


async def load(channel: grpc.aio.Channel) -> None:
    """Draft and approve the demo benefits (skipping those that exist)."""
    stub = benefits_pb2_grpc.BenefitsServiceStub(channel)
    for benefit in DEMO_BENEFITS:
        draft = pb.Benefit()
        draft.CopyFrom(benefit)
        draft.valid_until.CopyFrom(to_timestamp(utcnow() + timedelta(days=365)))
        try:
            await stub.CreateBenefit(
                pb.CreateBenefitRequest(
                    benefit=draft, principal=pb.Principal(kind="operator", actor_id="hq-operator")
                )
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            continue
        await stub.ReviewBenefit(
            pb.ReviewBenefitRequest(
                benefit_id=benefit.benefit_id,
                principal=pb.Principal(kind="operator", actor_id="hq-reviewer"),
                approve=True,
                note="demo data",
            )
        )
