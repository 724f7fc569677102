"""Benefits scenarios: points redemptions through the gateway by 64 customers, on one hot benefit
(every redemption updates the same redeemed account) and on 64 benefits (one per customer).

Overspend is impossible by construction (conditional balance updates); a redemption answered with
anything but 201 counts as an error, and the ledger check after the run must stay balanced.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
from lattice.benefits.v1 import benefits_pb2 as bpb
from lattice.benefits.v1 import benefits_pb2_grpc
from lattice.identity.v1 import identity_pb2 as ipb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity import demo_data
from services.identity.app_client import app_assertion
from services.runtime.clock import to_timestamp, utcnow
from tools.bench.scenario import BenchContext, RequestFactory, Scenario, json_request

CUSTOMERS = 64
POINTS = 10**9


async def _approve(stub: benefits_pb2_grpc.BenefitsServiceStub, benefit_id: str) -> None:
    benefit = bpb.Benefit(
        benefit_id=benefit_id,
        name="Bench points",
        kind=bpb.BENEFIT_KIND_POINTS,
        funder="dept:bench",
        face_value=POINTS,
        total_budget=POINTS * CUSTOMERS,
        usable_scopes=["app:*"],
        valid_until=to_timestamp(utcnow() + timedelta(days=1)),
    )
    drafter = bpb.Principal(kind="operator", actor_id="bench-drafter")
    await stub.CreateBenefit(bpb.CreateBenefitRequest(benefit=benefit, principal=drafter))
    reviewer = bpb.Principal(kind="operator", actor_id="bench-reviewer")
    await stub.ReviewBenefit(
        bpb.ReviewBenefitRequest(benefit_id=benefit_id, principal=reviewer, approve=True)
    )


def _setup(hot: bool):
    async def setup(ctx: BenchContext) -> dict[str, Any]:
        identity = ctx.channel("identity", default_timeout_s=30)
        benefits = ctx.channel("benefits", default_timeout_s=30)
        ids, bstub = (
            identity_pb2_grpc.CustomerServiceStub(identity),
            benefits_pb2_grpc.BenefitsServiceStub(benefits),
        )
        run = uuid.uuid4().hex[:6]
        customers = []
        try:
            if hot:
                await _approve(bstub, f"bench-hot-{run}")
            for i in range(ctx.size(CUSTOMERS)):
                benefit_id = f"bench-hot-{run}" if hot else f"bench-{run}-{i}"
                if not hot:
                    await _approve(bstub, benefit_id)
                assertion = app_assertion(
                    app_id="mbank",
                    client_secret=demo_data.DEMO_APP_SECRETS["mbank"],
                    app_user_id=f"bench-{run}-{i}",
                    assurance_level=2,
                )
                token = await ids.SignIn(ipb.SignInRequest(app_id="mbank", assertion=assertion))
                await bstub.GrantBenefit(
                    bpb.GrantBenefitRequest(
                        customer_id=_subject(token.access_token),
                        benefit_id=benefit_id,
                        idempotency_key=f"bench-{run}-{i}",
                        channel="reach:bench",
                        app_id="mbank",
                        principal=bpb.Principal(kind="service", scope_id="bench", actor_id="bench"),
                    )
                )
                customers.append({"token": token.access_token, "benefit_id": benefit_id})
        finally:
            await identity.close()
            await benefits.close()
        return {"customers": customers, "run": run}

    return setup


def _subject(token: str) -> str:
    """The internal customer id: the access token's subject."""
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def redeem(params: dict[str, Any]) -> RequestFactory:
    customers = params["customers"]

    def request(i: int):
        customer = customers[i % len(customers)]
        headers = {"authorization": f"Bearer {customer['token']}", "idempotency-key": f"{params['run']}-{i}"}
        return json_request(
            "POST",
            "/v1/apps/mbank/redemptions",
            {"benefit_id": customer["benefit_id"], "amount": 1},
            headers=headers,
            expect=(201,),
        )

    return request


SCENARIOS = [
    Scenario("benefits.redeem_hot", "redeem 1 point; 64 customers on one hot benefit", redeem, _setup(True)),
    Scenario("benefits.redeem_many", "redeem 1 point; 64 customers on 64 benefits", redeem, _setup(False)),
]
