"""ContentService over gRPC."""

from __future__ import annotations

from lattice.content.v1 import content_pb2 as pb
from lattice.content.v1 import content_pb2_grpc
from services.runtime.service import ServiceContext


class ContentApi(content_pb2_grpc.ContentServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def Ping(self, request, context) -> pb.PingResponse:  # type: ignore[no-untyped-def]
        return pb.PingResponse(service="content")
