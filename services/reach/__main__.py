"""python -m services.reach"""

from __future__ import annotations

from datetime import timedelta

import grpc
import httpx
from lattice.reach.v1 import reach_pb2, reach_pb2_grpc

from services.reach import counters
from services.reach.audit_search import search_audit
from services.reach.config import ReachSettings
from services.reach.engine import ReachEngine
from services.reach.events import start_consumers
from services.reach.grpc_api import ReachApi
from services.reach.peers import Peers
from services.reach.scheduler import run_forever
from services.reach.touchpoints import build_providers
from services.runtime.audit_trail import serve_audit_trail
from services.runtime.callers import GATEWAY, TOOLS
from services.runtime.service import ServiceContext, main

# Who may call each RPC (service identities from the mTLS certificates); an RPC left out is refused.
CALLERS: dict[str, frozenset[str]] = {
    "CreateStrategy": GATEWAY | TOOLS,
    "UpdateStrategy": GATEWAY,
    "GetStrategy": GATEWAY,
    "ListStrategyRevisions": GATEWAY,
    "ListStrategies": GATEWAY | TOOLS,
    "ApproveStrategy": GATEWAY | TOOLS,
    "RejectStrategy": GATEWAY,
    "ActivateStrategy": GATEWAY | TOOLS,
    "PauseStrategy": GATEWAY,
    "EndStrategy": GATEWAY,
    "DryRunStrategy": GATEWAY,
    "GetStrategyReview": GATEWAY,
    "ListDeliveries": GATEWAY,
    "RecordReceipts": GATEWAY,
    "GetDeliveryPolicy": GATEWAY,
    "ProposeDeliveryPolicy": GATEWAY,
    "ApproveDeliveryPolicy": GATEWAY,
    "ListContactPreferences": GATEWAY,
    "SetContactPreference": GATEWAY,
    "ListInboxMessages": GATEWAY,
    "MarkInboxMessageRead": GATEWAY,
}


async def wire(ctx: ServiceContext, server: grpc.aio.Server) -> list[str]:
    settings = ReachSettings()
    ctx.retention.extend(counters.RETENTION)
    client = httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
    reach = ReachEngine(
        engine=ctx.engine,
        peers=Peers(ctx.channel),
        providers=build_providers(settings, client),
        notify=ctx.relay.notify,
        retry_delay=timedelta(seconds=settings.retry_delay_s),
    )
    reach_pb2_grpc.add_ReachServiceServicer_to_server(ReachApi(ctx, reach), server)
    await start_consumers(
        bus=ctx.bus,
        reach=reach,
        max_deliver=ctx.settings.consumer_max_deliver,
        ack_wait_s=ctx.settings.consumer_ack_wait_s,
    )
    ctx.spawn(_schedule(reach, client, settings.scheduler_interval_s))
    ctx.callers.declare(reach_pb2.DESCRIPTOR.services_by_name["ReachService"], CALLERS)
    trail = serve_audit_trail(ctx, server, service="reach", search=search_audit)
    return [reach_pb2.DESCRIPTOR.services_by_name["ReachService"].full_name, trail]


async def _schedule(reach: ReachEngine, client: httpx.AsyncClient, interval_s: float) -> None:
    try:
        await run_forever(reach, interval_s=interval_s)
    finally:
        await client.aclose()


if __name__ == "__main__":
    main("reach", wire)
