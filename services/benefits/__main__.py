"""python -m services.benefits"""

from __future__ import annotations

import grpc
from lattice.benefits.v1 import benefits_pb2, benefits_pb2_grpc

from services.benefits import events
from services.benefits.audit_search import search_audit
from services.benefits.config import BenefitsSettings
from services.benefits.grpc_api import BenefitsApi
from services.benefits.lifecycle import run_sweeper
from services.runtime.audit_trail import serve_audit_trail
from services.runtime.callers import GATEWAY, TOOLS
from services.runtime.idempotency import operations_rule
from services.runtime.service import ServiceContext, main

# Who may call each RPC (service identities from the mTLS certificates); an RPC left out is refused.
CALLERS: dict[str, frozenset[str]] = {
    "CreateBenefit": GATEWAY | TOOLS,
    "ReviewBenefit": GATEWAY | TOOLS,
    "GetBenefit": GATEWAY,
    "ListBenefits": GATEWAY,
    "GrantBenefit": GATEWAY | TOOLS | {"reach"},
    "RevokeGrant": GATEWAY,
    "GetWallet": GATEWAY,
    "ReserveBenefit": GATEWAY,
    "ConfirmRedemption": GATEWAY,
    "CancelRedemption": GATEWAY,
    "RedeemBenefit": GATEWAY,
    "RefundRedemption": GATEWAY,
    "GetRedemption": GATEWAY,
    "ExpireDue": TOOLS,
    "CheckLedger": GATEWAY | TOOLS,
    "GetAccountBalance": GATEWAY,
    "ChangeBenefitState": GATEWAY,
    "RequestBenefitChange": GATEWAY,
    "ReviewBenefitChange": GATEWAY,
    "GetBenefitAudit": GATEWAY,
    "ListBenefitChanges": GATEWAY,
    "GetBudgetBurndown": GATEWAY,
}


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    settings = BenefitsSettings()
    benefits_pb2_grpc.add_BenefitsServiceServicer_to_server(BenefitsApi(ctx, settings), server)
    await events.subscribe(ctx)
    ctx.spawn(run_sweeper(engine=ctx.engine, interval_s=settings.sweep_interval_s, notify=ctx.relay.notify))
    ctx.retention.append(operations_rule(days=ctx.settings.operation_retention_days))
    ctx.callers.declare(benefits_pb2.DESCRIPTOR.services_by_name["BenefitsService"], CALLERS)
    trail = serve_audit_trail(ctx, server, service="benefits", search=search_audit)
    return [benefits_pb2.DESCRIPTOR.services_by_name["BenefitsService"].full_name, trail]


if __name__ == "__main__":
    main("benefits", wire)
