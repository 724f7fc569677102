"""python -m services.identity"""

from __future__ import annotations

import asyncio

import grpc
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc

from services.identity.admin_trail import search_audit
from services.identity.assertions import USED_ASSERTION_RETENTION
from services.identity.grpc_api import RegistryApi
from services.identity.grpc_customer import CustomerApi
from services.identity.keys import TokenSigner, ensure_signing_key
from services.runtime.audit_trail import serve_audit_trail
from services.runtime.callers import GATEWAY, TOOLS
from services.runtime.service import ServiceContext, main

# Who may call each RPC of identity's two APIs (service identities from the mTLS certificates); an RPC
# left out is refused. RegistryService:
CALLERS: dict[str, frozenset[str]] = {
    "RegisterApp": GATEWAY | TOOLS,
    "ListApps": GATEWAY | {"edge"},
    "RegisterPartner": GATEWAY | TOOLS,
    "GetPartner": GATEWAY,
    "ListPartners": GATEWAY,
    "GetJwks": GATEWAY | {"edge"},
    "IssueOperatorToken": GATEWAY | TOOLS,
    "GetPartnerSigningKey": GATEWAY | {"edge"},
    "RegisterOperator": GATEWAY | TOOLS,
    "ListOperators": GATEWAY,
    "RotatePartnerSigningKey": GATEWAY,
    "RotateSigningKey": GATEWAY,
    # CustomerService:
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
    "ResolvePairwiseId": GATEWAY,
    "GetPairwiseId": GATEWAY | {"conversion"} | {"reach"},
    "GetCustomerAttributes": GATEWAY | {"reach"},
    "ResolveAppAccount": GATEWAY,
}


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    await asyncio.to_thread(ensure_signing_key, engine=ctx.engine)
    ctx.retention.append(USED_ASSERTION_RETENTION)
    # Two APIs on one server, one signer (one cache of parsed keys): the registry and the customers' side.
    signer = TokenSigner(ctx.engine)
    identity_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryApi(ctx, signer), server)
    identity_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerApi(ctx, signer), server)
    registry = identity_pb2.DESCRIPTOR.services_by_name["RegistryService"]
    customer = identity_pb2.DESCRIPTOR.services_by_name["CustomerService"]
    for api in (registry, customer):
        ctx.callers.declare(api, {rpc: CALLERS[rpc] for rpc in api.methods_by_name if rpc in CALLERS})
    trail = serve_audit_trail(ctx, server, service="identity", search=search_audit)
    return [registry.full_name, customer.full_name, trail]


if __name__ == "__main__":
    main("identity", wire)
