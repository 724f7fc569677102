"""RegistryService over gRPC (apps, partners, operators, keys): protobuf <-> domain; errors are mapped
by the runtime interceptor. The customers' side is CustomerService (grpc_customer.py), same process."""

from __future__ import annotations

import asyncio

from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity import keys, operators, partner_keys, registry
from services.identity.admin_trail import ChangedBy
from services.identity.models import App, Partner
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.errors import Forbidden
from services.runtime.paging import page_size
from services.runtime.proto_mapping import from_proto, to_proto
from services.runtime.service import ServiceContext

MAX_PAGE = 100


def _changed_by(actor: pb.OperatorActor) -> ChangedBy | None:
    """The operator behind a registry change (None: the platform's own loader, recorded as "tools")."""
    return ChangedBy(operator_id=actor.operator_id, branch=actor.branch) if actor.operator_id else None


class RegistryApi(identity_pb2_grpc.RegistryServiceServicer):
    def __init__(self, ctx: ServiceContext, signer: keys.TokenSigner) -> None:
        self._engine = ctx.engine
        self._signer = signer
        self._demo_secrets_allowed = ctx.settings.environment != "production"

    def _known_secret(self, secret: object) -> None:
        if secret and not self._demo_secrets_allowed:
            raise Forbidden("fixed_secret_not_allowed", "fixed secrets are for demo data outside production")

    async def RegisterApp(self, request: pb.RegisterAppRequest, context) -> pb.RegisterAppResponse:
        self._known_secret(request.client_secret)
        app, secret = await asyncio.to_thread(
            registry.register_app,
            engine=self._engine,
            app=from_proto(App, request.app),
            client_secret=request.client_secret,
            by=_changed_by(request.actor),
        )
        return pb.RegisterAppResponse(app=to_proto(pb.App, app), client_secret=secret)

    async def ListApps(self, request: pb.ListAppsRequest, context) -> pb.ListAppsResponse:
        apps, token = await asyncio.to_thread(
            registry.list_apps,
            engine=self._engine,
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListAppsResponse(apps=[to_proto(pb.App, a) for a in apps], next_page_token=token)

    async def RegisterPartner(
        self, request: pb.RegisterPartnerRequest, context
    ) -> pb.RegisterPartnerResponse:
        self._known_secret(request.signing_secret)
        partner, key = await asyncio.to_thread(
            registry.register_partner,
            engine=self._engine,
            by=_changed_by(request.actor),
            partner=from_proto(Partner, request.partner, created_at=utcnow()),  # registered now
            key_id=request.signing_key_id,
            secret=request.signing_secret,
        )
        return pb.RegisterPartnerResponse(
            partner=to_proto(pb.Partner, partner), signing_key_id=key.key_id, signing_secret=key.secret
        )

    async def GetPartner(self, request: pb.GetPartnerRequest, context) -> pb.GetPartnerResponse:
        partner = await asyncio.to_thread(
            registry.get_partner, engine=self._engine, partner_id=request.partner_id
        )
        return pb.GetPartnerResponse(partner=to_proto(pb.Partner, partner))

    async def ListPartners(self, request: pb.ListPartnersRequest, context) -> pb.ListPartnersResponse:
        size = min(request.page_size or 50, MAX_PAGE)
        partners = await asyncio.to_thread(
            registry.list_partners, engine=self._engine, limit=size + 1, after=request.page_token
        )
        next_token = partners[size - 1].partner_id if len(partners) > size else ""
        return pb.ListPartnersResponse(
            partners=[to_proto(pb.Partner, p) for p in partners[:size]], next_page_token=next_token
        )

    async def GetJwks(self, request: pb.GetJwksRequest, context) -> pb.GetJwksResponse:
        jwks = await asyncio.to_thread(keys.jwks_json, engine=self._engine)
        return pb.GetJwksResponse(jwks_json=jwks, issuer=keys.ISSUER)

    async def RotateSigningKey(
        self, request: pb.RotateSigningKeyRequest, context
    ) -> pb.RotateSigningKeyResponse:
        key, previous = await asyncio.to_thread(
            keys.rotate_signing_key,
            engine=self._engine,
            overlap_s=request.overlap_seconds,
            by=_changed_by(request.actor),
        )
        return pb.RotateSigningKeyResponse(
            kid=key.kid,
            previous_kid=previous.kid if previous else "",
            previous_not_after=to_timestamp(previous.not_after if previous else None),
        )

    async def RegisterOperator(
        self, request: pb.RegisterOperatorRequest, context
    ) -> pb.RegisterOperatorResponse:
        self._known_secret(request.client_secret)
        operator, secret = await asyncio.to_thread(
            operators.register_operator,
            engine=self._engine,
            operator_id=request.operator_id,
            role=request.role,
            branch=request.branch or None,
            client_secret=request.client_secret,
            by=_changed_by(request.actor),
        )
        return to_proto(pb.RegisterOperatorResponse, operator, client_secret=secret)

    async def ListOperators(self, request: pb.ListOperatorsRequest, context) -> pb.ListOperatorsResponse:
        size = min(request.page_size or 50, 200)
        found = await asyncio.to_thread(
            operators.list_operators,
            engine=self._engine,
            actor_role=request.actor.role,
            actor_branch=request.actor.branch or None,
            branch=request.branch,
            role=request.role,
            limit=size + 1,
            after=request.page_token,
        )
        return pb.ListOperatorsResponse(
            operators=[to_proto(pb.OperatorSummary, o) for o in found[:size]],
            next_page_token=found[size - 1].operator_id if len(found) > size else "",
        )

    async def IssueOperatorToken(
        self, request: pb.IssueOperatorTokenRequest, context
    ) -> pb.IssueOperatorTokenResponse:
        token, operator = await asyncio.to_thread(
            operators.issue_operator_token,
            engine=self._engine,
            signer=self._signer,
            operator_id=request.operator_id,
            client_secret=request.client_secret,
        )
        return pb.IssueOperatorTokenResponse(
            access_token=token,
            expires_in=int(operators.OPERATOR_TOKEN_TTL.total_seconds()),
            role=operator.role,
            branch=operator.branch or "",
        )

    async def GetPartnerSigningKey(
        self, request: pb.GetPartnerSigningKeyRequest, context
    ) -> pb.GetPartnerSigningKeyResponse:
        key = await asyncio.to_thread(
            partner_keys.get_partner_key,
            engine=self._engine,
            partner_id=request.partner_id,
            key_id=request.key_id,
        )
        return to_proto(pb.GetPartnerSigningKeyResponse, key)  # no not_after: the current key

    async def RotatePartnerSigningKey(
        self, request: pb.RotatePartnerSigningKeyRequest, context
    ) -> pb.RotatePartnerSigningKeyResponse:
        key, ends = await asyncio.to_thread(
            partner_keys.rotate_partner_key,
            engine=self._engine,
            partner_id=request.partner_id,
            overlap_s=request.overlap_seconds,
            by=_changed_by(request.actor),
        )
        return to_proto(pb.RotatePartnerSigningKeyResponse, key, previous_key_not_after=ends)
