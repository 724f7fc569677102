"""python -m services.conversion"""

from __future__ import annotations

import grpc
from lattice.conversion.v1 import conversion_pb2, conversion_pb2_grpc

from services.conversion.audit_search import search_audit
from services.conversion.config import ConversionSettings
from services.conversion.events import start_consumers
from services.conversion.grpc_api import ConversionApi
from services.conversion.postback_delivery import PostbackSender
from services.runtime.audit_trail import serve_audit_trail
from services.runtime.callers import GATEWAY, TOOLS
from services.runtime.service import ServiceContext, main
from services.runtime.write_queue import serialize_writers

# Who may call each RPC (service identities from the mTLS certificates); an RPC left out is refused.
CALLERS: dict[str, frozenset[str]] = {
    "GetPartnerProfile": GATEWAY,
    "CreateCampaign": GATEWAY | TOOLS,
    "UpdateCampaign": GATEWAY,
    "GetCampaign": GATEWAY | TOOLS,
    "ReviewCampaign": GATEWAY | TOOLS,
    "ListCampaignVersions": GATEWAY,
    "ListLinks": GATEWAY,
    "GetLink": GATEWAY,
    "GetPostbackDelivery": GATEWAY,
    "ResendPostbackDelivery": GATEWAY,
    "ListCampaigns": GATEWAY,
    "SetPostbackEndpoint": GATEWAY,
    "ListPostbackDeliveries": GATEWAY,
    "CreateLink": GATEWAY | TOOLS,
    "ListLinkSigningKeys": GATEWAY,
    "RotateLinkSigningKey": GATEWAY,
    "GetFunnelReport": GATEWAY,
    "GetNorthStar": GATEWAY,
    "CreateGoal": GATEWAY | TOOLS,
    "UpdateGoal": GATEWAY,
    "DeleteGoal": GATEWAY,
    "GetGoal": GATEWAY,
    "ListGoals": GATEWAY,
    "ListGoalChanges": GATEWAY,
}


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    settings = ConversionSettings()
    # one line for this process's writers: the consumers' and sender's queue and every other writer
    serialize_writers(ctx.engine)
    conversion_pb2_grpc.add_ConversionServiceServicer_to_server(ConversionApi(ctx, settings), server)
    sender = PostbackSender(engine=ctx.engine, settings=settings, identity=ctx.channel("identity"))
    await start_consumers(
        bus=ctx.bus,
        engine=ctx.engine,
        settings=settings,
        max_deliver=ctx.settings.consumer_max_deliver,
        ack_wait_s=ctx.settings.consumer_ack_wait_s,
    )
    ctx.spawn(sender.run())
    ctx.callers.declare(conversion_pb2.DESCRIPTOR.services_by_name["ConversionService"], CALLERS)
    trail = serve_audit_trail(ctx, server, service="conversion", search=search_audit)
    return [conversion_pb2.DESCRIPTOR.services_by_name["ConversionService"].full_name, trail]


if __name__ == "__main__":
    main("conversion", wire)
