"""The benefits API through the generated stub against a real in-process server (SQLite file, real NATS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from lattice.benefits.v1 import benefits_pb2 as pb
from lattice.benefits.v1 import benefits_pb2_grpc
from lattice.identity.v1 import events_pb2 as identity_events

from services.benefits.__main__ import wire
from services.runtime.bus import Bus
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.grpc_client import reason_of
from tests.benefits.conftest import assert_ledger_balanced
from tests.support.inprocess import serve

MBANK = pb.UsageContext(app_id="mbank", assurance_level=2)
LIFE = pb.UsageContext(app_id="life", assurance_level=2)
P1 = pb.UsageContext(partner_id="p1", scene="ride")
DRAFTER = pb.Principal(kind="operator", actor_id="op-a")
REVIEWER = pb.Principal(kind="operator", actor_id="op-b")
REACH = pb.Principal(kind="service", scope_id="reach", actor_id="reach")


def acting(context: pb.UsageContext) -> pb.Principal:
    """The principal the gateway passes for a customer in an app or a partner in its scene."""
    if context.partner_id:
        return pb.Principal(kind="partner", scope_id=context.partner_id)
    return pb.Principal(kind="customer", scope_id=context.app_id)


@asynccontextmanager
async def benefits(tmp_path: Path, nats_url: str) -> AsyncIterator[benefits_pb2_grpc.BenefitsServiceStub]:
    """The service in-process; its ledger is proved balanced when the test is done."""
    async with serve("benefits", wire, tmp_path=tmp_path, nats_url=nats_url) as (svc, channel):
        yield benefits_pb2_grpc.BenefitsServiceStub(channel)
        assert_ledger_balanced(svc.ctx.engine)


async def approve(stub: benefits_pb2_grpc.BenefitsServiceStub, **fields: object) -> pb.Benefit:
    values: dict[str, object] = {
        "benefit_id": "coffee",
        "name": "Coffee",
        "kind": pb.BENEFIT_KIND_FIXED_COUPON,
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*", "partner:p1"],
        "valid_until": to_timestamp(utcnow() + timedelta(days=7)),
        "claimable": True,
    }
    values.update(fields)
    await stub.CreateBenefit(
        pb.CreateBenefitRequest(benefit=pb.Benefit(**values), principal=DRAFTER), timeout=5
    )
    resp = await stub.ReviewBenefit(
        pb.ReviewBenefitRequest(benefit_id=str(values["benefit_id"]), principal=REVIEWER, approve=True),
        timeout=5,
    )
    return resp.benefit


def target(customer: str, key: str, context: pb.UsageContext, **fields: object) -> pb.RedemptionTarget:
    values: dict[str, object] = {"benefit_id": "coffee", "order_amount": 2_000, **fields}
    return pb.RedemptionTarget(
        customer_id=customer, idempotency_key=key, context=context, principal=acting(context), **values
    )


async def rejected(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), reason_of(err.value)


async def test_drafter_cannot_approve_own_benefit(tmp_path: Path, nats_url: str) -> None:
    async with benefits(tmp_path, nats_url) as stub:
        draft = pb.Benefit(
            benefit_id="tea",
            name="Tea",
            kind=pb.BENEFIT_KIND_FIXED_COUPON,
            funder="dept:retail",
            face_value=100,
            total_budget=1_000,
            usable_scopes=["app:*"],
            valid_days=3,
        )
        await stub.CreateBenefit(pb.CreateBenefitRequest(benefit=draft, principal=DRAFTER), timeout=5)
        assert await rejected(
            stub.ReviewBenefit(
                pb.ReviewBenefitRequest(benefit_id="tea", principal=DRAFTER, approve=True), timeout=5
            )
        ) == (grpc.StatusCode.PERMISSION_DENIED, "self_approval")
        code, reason = await rejected(
            stub.RedeemBenefit(
                pb.RedeemBenefitRequest(target=target("c1", "k1", MBANK, benefit_id="tea")), timeout=5
            )
        )
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "not_eligible")


async def test_per_customer_limit_counts_across_apps_and_partners(tmp_path: Path, nats_url: str) -> None:
    async with benefits(tmp_path, nats_url) as stub:
        await approve(stub, per_customer_limit=2)
        for key, ctx in (("m", MBANK), ("l", LIFE)):
            resp = await stub.RedeemBenefit(pb.RedeemBenefitRequest(target=target("c1", key, ctx)), timeout=5)
            assert resp.redemption.status == "confirmed"
        code, reason = await rejected(
            stub.RedeemBenefit(pb.RedeemBenefitRequest(target=target("c1", "p", P1)), timeout=5)
        )
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "limit_exceeded")
        other = await stub.RedeemBenefit(pb.RedeemBenefitRequest(target=target("c2", "p", P1)), timeout=5)
        assert other.redemption.scope == "partner:p1:ride"


async def test_scopes_expiry_and_consent_withdrawal(tmp_path: Path, nats_url: str) -> None:
    async with benefits(tmp_path, nats_url) as stub:
        await approve(stub)
        p2 = pb.UsageContext(partner_id="p2")
        assert (
            await rejected(
                stub.RedeemBenefit(pb.RedeemBenefitRequest(target=target("c1", "x", p2)), timeout=5)
            )
        )[1] == "not_usable_here"
        await stub.GrantBenefit(
            pb.GrantBenefitRequest(
                customer_id="c9",
                benefit_id="coffee",
                idempotency_key="g",
                channel="reach:s1",
                app_id="mbank",
                principal=REACH,
            ),
            timeout=5,
        )
        wallet = await stub.GetWallet(
            pb.GetWalletRequest(customer_id="c9", context=P1, only_usable_here=True)
        )
        assert [g.usable_here for g in wallet.grants] == [True]
        bus = await Bus.connect(nats_url, name="test-identity")
        try:
            event = identity_events.ConsentWithdrawn(consent_id="cs1", customer_id="c9", recipient="p1")
            await bus.publish(
                "identity.consent.withdrawn",
                event.SerializeToString(),
                event_id="ev-cs1",
                event_type=event.DESCRIPTOR.full_name,
            )
        finally:
            await bus.close()
        for _ in range(50):
            wallet = await stub.GetWallet(
                pb.GetWalletRequest(customer_id="c9", context=P1, only_usable_here=True)
            )
            if not wallet.grants:
                break
            await asyncio.sleep(0.1)
        assert list(wallet.grants) == []
        assert (
            await rejected(
                stub.RedeemBenefit(pb.RedeemBenefitRequest(target=target("c9", "y", P1)), timeout=5)
            )
        )[1] == "consent_withdrawn"
        in_app = await stub.RedeemBenefit(pb.RedeemBenefitRequest(target=target("c9", "z", MBANK)), timeout=5)
        assert in_app.redemption.grant_ids == [
            wallet_grant.grant_id
            for wallet_grant in (
                await stub.GetWallet(
                    pb.GetWalletRequest(customer_id="c9", context=MBANK, include_inactive=True)
                )
            ).grants
        ]


async def test_hold_released_after_ttl_and_confirm_after_ttl_is_409(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENEFITS_SWEEP_INTERVAL_S", "0.2")
    async with benefits(tmp_path, nats_url) as stub:
        await approve(stub)
        held = await stub.ReserveBenefit(
            pb.ReserveBenefitRequest(target=target("c1", "h1", MBANK), ttl_seconds=1)
        )
        assert held.redemption.status == "held"
        wallet = await stub.GetWallet(pb.GetWalletRequest(customer_id="c1", context=MBANK))
        assert [(g.status, g.remaining, g.held) for g in wallet.grants] == [("held", 0, 500)]
        await asyncio.sleep(1.6)
        wallet = await stub.GetWallet(pb.GetWalletRequest(customer_id="c1", context=MBANK))
        assert [(g.status, g.remaining, g.held) for g in wallet.grants] == [("active", 500, 0)]
        confirm = pb.ConfirmRedemptionRequest(
            redemption_id=held.redemption.redemption_id,
            customer_id="c1",
            idempotency_key="c1",
            principal=acting(MBANK),
        )
        assert await rejected(stub.ConfirmRedemption(confirm, timeout=5)) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "hold_expired",
        )
        again = await stub.ReserveBenefit(
            pb.ReserveBenefitRequest(target=target("c1", "h2", MBANK), ttl_seconds=60)
        )
        confirmed = await stub.ConfirmRedemption(
            pb.ConfirmRedemptionRequest(
                redemption_id=again.redemption.redemption_id,
                customer_id="c1",
                idempotency_key="c2",
                principal=acting(MBANK),
            )
        )
        assert (confirmed.redemption.status, confirmed.redemption.amount) == ("confirmed", 500)


async def test_same_key_ten_times_concurrently_is_one_posting(tmp_path: Path, nats_url: str) -> None:
    async with benefits(tmp_path, nats_url) as stub:
        await approve(stub)
        before = await stub.CheckLedger(pb.CheckLedgerRequest(principal=DRAFTER))
        request = pb.RedeemBenefitRequest(target=target("c1", "same", MBANK, order_amount=300))
        answers = await asyncio.gather(*(stub.RedeemBenefit(request, timeout=10) for _ in range(10)))
        assert len({a.SerializeToString() for a in answers}) == 1
        after = await stub.CheckLedger(pb.CheckLedgerRequest(principal=DRAFTER))
        # one claim (grant), one hold, one confirmation, one coupon leftover back to the budget
        assert after.entries - before.entries == 4
        benefit = (
            await stub.GetBenefit(pb.GetBenefitRequest(benefit_id="coffee", principal=DRAFTER))
        ).benefit
        assert benefit.budget_remaining == 50_000 - 300
        changed = pb.RedeemBenefitRequest(target=target("c1", "same", MBANK, order_amount=400))
        assert await rejected(stub.RedeemBenefit(changed, timeout=5)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "idempotency_key_reused",
        )


async def test_partial_refund_of_40_percent_returns_exactly_40_percent(tmp_path: Path, nats_url: str) -> None:
    async with benefits(tmp_path, nats_url) as stub:
        await approve(
            stub, benefit_id="miles", kind=pb.BENEFIT_KIND_POINTS, face_value=1_000, claimable=False
        )
        await stub.GrantBenefit(
            pb.GrantBenefitRequest(
                customer_id="c1",
                benefit_id="miles",
                idempotency_key="g1",
                channel="reach:s1",
                app_id="mbank",
                principal=REACH,
            )
        )
        used = await stub.RedeemBenefit(
            pb.RedeemBenefitRequest(
                target=pb.RedemptionTarget(
                    customer_id="c1",
                    benefit_id="miles",
                    amount=750,
                    context=LIFE,
                    idempotency_key="r1",
                    principal=acting(LIFE),
                )
            )
        )
        refund = await stub.RefundRedemption(
            pb.RefundRedemptionRequest(
                redemption_id=used.redemption.redemption_id,
                customer_id="c1",
                principal=acting(LIFE),
                ratio_bps=4_000,
                idempotency_key="f1",
            )
        )
        assert (refund.refunded_now, refund.redemption.refunded) == (300, 300)
        wallet = await stub.GetWallet(pb.GetWalletRequest(customer_id="c1", context=MBANK))
        assert [(p.available, p.pending, p.held) for p in wallet.points] == [(550, 0, 0)]
        too_much = pb.RefundRedemptionRequest(
            redemption_id=used.redemption.redemption_id,
            customer_id="c1",
            amount=451,
            idempotency_key="f2",
            principal=acting(LIFE),
        )
        assert (await rejected(stub.RefundRedemption(too_much)))[1] == "refund_exceeds_redemption"
