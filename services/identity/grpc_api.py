"""IdentityService over gRPC: protobuf <-> domain; errors are mapped by the runtime interceptor."""

from __future__ import annotations

import asyncio

from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc
from services.identity import registry
from services.identity.models import App, Partner
from services.runtime.clock import to_timestamp
from services.runtime.service import ServiceContext

_ROLE_TO_PB = {"core": pb.APP_ROLE_CORE, "main": pb.APP_ROLE_MAIN, "vertical": pb.APP_ROLE_VERTICAL}
_ROLE_FROM_PB = {v: k for k, v in _ROLE_TO_PB.items()}
MAX_PAGE = 100


def app_to_pb(app: App) -> pb.App:
    return pb.App(
        app_id=app.app_id,
        name=app.name,
        role=_ROLE_TO_PB.get(app.role, pb.APP_ROLE_UNSPECIFIED),
        legal_entity=app.legal_entity,
        editions=app.editions,
    )


def partner_to_pb(partner: Partner) -> pb.Partner:
    return pb.Partner(
        partner_id=partner.partner_id,
        name=partner.name,
        sector=partner.sector,
        allowed_scopes=partner.allowed_scopes,
        postback_url=partner.postback_url,
        created_at=to_timestamp(partner.created_at),
    )


class IdentityApi(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._engine = ctx.engine

    async def RegisterApp(self, request: pb.RegisterAppRequest, context) -> pb.RegisterAppResponse:  # type: ignore[no-untyped-def]
        a = request.app
        app = App(
            app_id=a.app_id,
            name=a.name,
            role=_ROLE_FROM_PB.get(a.role, ""),
            legal_entity=a.legal_entity,
            editions=list(a.editions),
        )
        app = await asyncio.to_thread(registry.register_app, engine=self._engine, app=app)
        self._ctx.relay.notify()
        return pb.RegisterAppResponse(app=app_to_pb(app))

    async def ListApps(self, request: pb.ListAppsRequest, context) -> pb.ListAppsResponse:  # type: ignore[no-untyped-def]
        apps = await asyncio.to_thread(registry.list_apps, engine=self._engine)
        return pb.ListAppsResponse(apps=[app_to_pb(a) for a in apps])

    async def RegisterPartner(self, request: pb.RegisterPartnerRequest, context) -> pb.RegisterPartnerResponse:  # type: ignore[no-untyped-def]
        p = request.partner
        partner = Partner(
            partner_id=p.partner_id,
            name=p.name,
            sector=p.sector,
            allowed_scopes=list(p.allowed_scopes),
            postback_url=p.postback_url,
        )
        partner = await asyncio.to_thread(registry.register_partner, engine=self._engine, partner=partner)
        self._ctx.relay.notify()
        return pb.RegisterPartnerResponse(partner=partner_to_pb(partner))

    async def GetPartner(self, request: pb.GetPartnerRequest, context) -> pb.GetPartnerResponse:  # type: ignore[no-untyped-def]
        partner = await asyncio.to_thread(registry.get_partner, engine=self._engine, partner_id=request.partner_id)
        return pb.GetPartnerResponse(partner=partner_to_pb(partner))

    async def ListPartners(self, request: pb.ListPartnersRequest, context) -> pb.ListPartnersResponse:  # type: ignore[no-untyped-def]
        size = min(request.page_size or 50, MAX_PAGE)
        partners = await asyncio.to_thread(
            registry.list_partners, engine=self._engine, limit=size + 1, after=request.page_token
        )
        next_token = partners[size - 1].partner_id if len(partners) > size else ""
        return pb.ListPartnersResponse(
            partners=[partner_to_pb(p) for p in partners[:size]], next_page_token=next_token
        )
