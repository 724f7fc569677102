"""ConversionService over gRPC."""

from __future__ import annotations

import asyncio

from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import conversion_pb2_grpc
from services.conversion import partners
from services.runtime.clock import to_timestamp
from services.runtime.service import ServiceContext


class ConversionApi(conversion_pb2_grpc.ConversionServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._engine = ctx.engine

    async def GetPartnerProfile(self, request, context) -> pb.GetPartnerProfileResponse:  # type: ignore[no-untyped-def]
        profile = await asyncio.to_thread(
            partners.get_partner_profile, engine=self._engine, partner_id=request.partner_id
        )
        return pb.GetPartnerProfileResponse(
            partner=pb.PartnerProfile(
                partner_id=profile.partner_id,
                name=profile.name,
                postback_url=profile.postback_url,
                registered_at=to_timestamp(profile.registered_at),
            )
        )
