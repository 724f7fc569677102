"""python -m services.content"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

import grpc
from lattice.content.v1 import content_pb2, content_pb2_grpc

from services.content.audit_search import search_audit
from services.content.events import watch_content_events
from services.content.grpc_api import ContentApi
from services.content.serving import SERVE_COUNT_RETENTION
from services.content.slot_cache import SlotCache
from services.runtime.audit_trail import serve_audit_trail
from services.runtime.callers import GATEWAY, TOOLS
from services.runtime.clock import utcnow
from services.runtime.service import ServiceContext, main

# Who may call each RPC (service identities from the mTLS certificates); an RPC left out is refused.
CALLERS: dict[str, frozenset[str]] = {
    "CreateItem": GATEWAY | TOOLS,
    "GetItem": GATEWAY,
    "ListItems": GATEWAY,
    "ListReviewQueue": GATEWAY,
    "EditItem": GATEWAY,
    "SubmitItem": GATEWAY | TOOLS,
    "CheckItemCompliance": GATEWAY,
    "ApproveItem": GATEWAY | TOOLS,
    "RejectItem": GATEWAY,
    "PublishItem": GATEWAY | TOOLS,
    "ArchiveItem": GATEWAY,
    "RollbackItem": GATEWAY,
    "ListAuditEntries": GATEWAY,
    "CreateSlot": GATEWAY | TOOLS,
    "ListSlots": GATEWAY,
    "CreatePlacement": GATEWAY | TOOLS,
    "UpdatePlacement": GATEWAY | TOOLS,
    "RemovePlacement": GATEWAY,
    "ListPlacements": GATEWAY,
    "ServeSlot": GATEWAY | TOOLS,
    "GetRenderedItem": GATEWAY | {"reach"},
    "PreviewSlot": GATEWAY,
}


async def wire(
    ctx: ServiceContext,
    server: grpc.aio.Server,
    *,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> list[str]:
    cache = SlotCache(ctx.engine)
    ctx.retention.append(SERVE_COUNT_RETENTION)
    await watch_content_events(ctx.bus, cache)
    content_pb2_grpc.add_ContentServiceServicer_to_server(
        ContentApi(ctx, cache=cache, clock=clock, rng=rng), server
    )
    ctx.callers.declare(content_pb2.DESCRIPTOR.services_by_name["ContentService"], CALLERS)
    trail = serve_audit_trail(ctx, server, service="content", search=search_audit)
    return [content_pb2.DESCRIPTOR.services_by_name["ContentService"].full_name, trail]


if __name__ == "__main__":
    main("content", wire)
