"""`kill -9` after commit and before the answer: a retry with the same key gets the original result."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from lattice.benefits.v1 import benefits_pb2 as pb
from lattice.benefits.v1 import benefits_pb2_grpc

from services.runtime.clock import from_timestamp, to_timestamp, utcnow
from tests.support.channels import stack_channel
from tools.stack import Stack


def test_retry_after_crash_between_commit_and_response_replays_one_posting(private_stack: Stack) -> None:
    private_stack.start_nats()
    benefits = private_stack.start_service("benefits", env={"BENEFITS_FAULT_KILL_AFTER_COMMIT": "1"})
    private_stack.wait_service("benefits")
    with stack_channel(private_stack, "benefits") as channel:
        stub = benefits_pb2_grpc.BenefitsServiceStub(channel)
        draft = pb.Benefit(
            benefit_id="coffee",
            name="Coffee",
            kind=pb.BENEFIT_KIND_FIXED_COUPON,
            funder="dept:retail",
            face_value=500,
            total_budget=5_000,
            usable_scopes=["app:*"],
            claimable=True,
            valid_until=to_timestamp(utcnow() + timedelta(days=1)),
        )
        stub.CreateBenefit(
            pb.CreateBenefitRequest(benefit=draft, principal=pb.Principal(kind="operator", actor_id="op-a")),
            timeout=5,
        )
        stub.ReviewBenefit(
            pb.ReviewBenefitRequest(
                benefit_id="coffee", principal=pb.Principal(kind="operator", actor_id="op-b"), approve=True
            ),
            timeout=5,
        )
        before = stub.CheckLedger(
            pb.CheckLedgerRequest(principal=pb.Principal(kind="operator", actor_id="op-a")), timeout=5
        )
        request = pb.RedeemBenefitRequest(
            target=pb.RedemptionTarget(
                customer_id="c1",
                benefit_id="coffee",
                order_amount=2_000,
                idempotency_key="pay-1",
                context=pb.UsageContext(app_id="mbank", assurance_level=2),
                principal=pb.Principal(kind="customer", scope_id="mbank"),
            )
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.RedeemBenefit(request, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        benefits.popen.wait(5)
        assert benefits.popen.returncode == 137
        crashed_at = utcnow()
        private_stack.restart("benefits", env={"BENEFITS_FAULT_KILL_AFTER_COMMIT": "0"})
        private_stack.wait_service("benefits")
        first = stub.RedeemBenefit(request, timeout=5)
        second = stub.RedeemBenefit(request, timeout=5)
        assert first == second
        assert first.redemption.status == "confirmed" and first.redemption.amount == 500
        assert from_timestamp(first.redemption.created_at) < crashed_at  # committed before the crash
        after = stub.CheckLedger(
            pb.CheckLedgerRequest(principal=pb.Principal(kind="operator", actor_id="op-a")), timeout=5
        )
        assert after.balanced
        assert after.entries - before.entries == 3  # claim, hold, confirmation: once
        benefit = stub.GetBenefit(
            pb.GetBenefitRequest(
                benefit_id="coffee", principal=pb.Principal(kind="operator", actor_id="op-a")
            ),
            timeout=5,
        ).benefit
        assert benefit.budget_remaining == 4_500
