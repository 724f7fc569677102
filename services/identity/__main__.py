"""python -m services.identity"""

from __future__ import annotations

import asyncio

import grpc
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc

from services.identity.grpc_api import IdentityApi
from services.identity.keys import ensure_signing_key
from services.runtime.service import ServiceContext, main


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    await asyncio.to_thread(ensure_signing_key, engine=ctx.engine)
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityApi(ctx), server)
    return [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name]


if __name__ == "__main__":
    main("identity", wire)
