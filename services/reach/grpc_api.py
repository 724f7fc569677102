"""ReachService over gRPC."""

from __future__ import annotations

from lattice.reach.v1 import reach_pb2 as pb
from lattice.reach.v1 import reach_pb2_grpc
from services.runtime.service import ServiceContext


class ReachApi(reach_pb2_grpc.ReachServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def Ping(self, request, context) -> pb.PingResponse:  # type: ignore[no-untyped-def]
        return pb.PingResponse(service="reach")
