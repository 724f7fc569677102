"""python -m services.reach"""

from __future__ import annotations

import grpc

from lattice.reach.v1 import reach_pb2, reach_pb2_grpc
from services.reach.grpc_api import ReachApi
from services.runtime.service import ServiceContext, main


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    reach_pb2_grpc.add_ReachServiceServicer_to_server(ReachApi(ctx), server)
    return [reach_pb2.DESCRIPTOR.services_by_name["ReachService"].full_name]


if __name__ == "__main__":
    main("reach", wire)
