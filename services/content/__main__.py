"""python -m services.content"""

from __future__ import annotations

import grpc

from lattice.content.v1 import content_pb2, content_pb2_grpc
from services.content.grpc_api import ContentApi
from services.runtime.service import ServiceContext, main


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    content_pb2_grpc.add_ContentServiceServicer_to_server(ContentApi(ctx), server)
    return [content_pb2.DESCRIPTOR.services_by_name["ContentService"].full_name]


if __name__ == "__main__":
    main("content", wire)
