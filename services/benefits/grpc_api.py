"""BenefitsService over gRPC."""

from __future__ import annotations

from lattice.benefits.v1 import benefits_pb2 as pb
from lattice.benefits.v1 import benefits_pb2_grpc
from services.runtime.service import ServiceContext


class BenefitsApi(benefits_pb2_grpc.BenefitsServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def Ping(self, request, context) -> pb.PingResponse:  # type: ignore[no-untyped-def]
        return pb.PingResponse(service="benefits")
