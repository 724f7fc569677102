"""python -m services.benefits"""

from __future__ import annotations

import grpc

from lattice.benefits.v1 import benefits_pb2, benefits_pb2_grpc
from services.benefits.grpc_api import BenefitsApi
from services.runtime.service import ServiceContext, main


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    benefits_pb2_grpc.add_BenefitsServiceServicer_to_server(BenefitsApi(ctx), server)
    return [benefits_pb2.DESCRIPTOR.services_by_name["BenefitsService"].full_name]


if __name__ == "__main__":
    main("benefits", wire)
