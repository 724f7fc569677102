"""python -m services.identity"""

from __future__ import annotations

import asyncio

import grpc
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc

from services.identity.admin_trail import search_audit
from services.identity.grpc_api import IdentityApi
from services.identity.keys import ensure_signing_key
from services.runtime.audit_trail import serve_audit_trail
from services.runtime.callers import GATEWAY, TOOLS
from services.runtime.service import ServiceContext, main

# Who may call each RPC (service identities from the mTLS certificates); an RPC left out is refused.
CALLERS: dict[str, frozenset[str]] = {
    "RegisterApp": GATEWAY | TOOLS,
    "ListApps": GATEWAY | {"edge"},
    "RegisterPartner": GATEWAY | TOOLS,
    "GetPartner": GATEWAY,
    "ListPartners": GATEWAY,
    "GetJwks": GATEWAY | {"edge"},
    "IssueOperatorToken": GATEWAY | TOOLS,
    "GetPartnerSigningKey": GATEWAY | {"edge"},
    "ResolvePairwiseId": GATEWAY,
    "GetPairwiseId": GATEWAY | {"conversion"} | {"reach"},
    "GetCustomerAttributes": GATEWAY | {"reach"},
    "ResolveAppAccount": GATEWAY,
    "RegisterOperator": GATEWAY | TOOLS,
    "ListOperators": GATEWAY,
    "RotatePartnerSigningKey": GATEWAY,
    "RotateSigningKey": GATEWAY,
    "SignIn": GATEWAY | TOOLS,
    "RefreshSession": GATEWAY,
    "SignOutEverywhere": GATEWAY,
    "IssueRecognitionTicket": GATEWAY | TOOLS,
    "RedeemRecognitionTicket": GATEWAY,
    "GetCustomerProfile": GATEWAY,
    "GrantConsent": GATEWAY,
    "ListConsents": GATEWAY,
    "WithdrawConsent": GATEWAY,
    "StartPartnerBinding": GATEWAY | TOOLS,
    "GetPartnerBinding": GATEWAY,
    "ConfirmPartnerBinding": GATEWAY | TOOLS,
    "CompletePartnerBinding": GATEWAY | TOOLS,
    "GetPartnerLink": GATEWAY,
    "RemovePartnerLink": GATEWAY,
}


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    await asyncio.to_thread(ensure_signing_key, engine=ctx.engine)
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityApi(ctx), server)
    ctx.callers.declare(identity_pb2.DESCRIPTOR.services_by_name["IdentityService"], CALLERS)
    trail = serve_audit_trail(ctx, server, service="identity", search=search_audit)
    return [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name, trail]


if __name__ == "__main__":
    main("identity", wire)
