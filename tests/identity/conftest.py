"""Identity in-process (real gRPC server, SQLite file, NATS) with the demo data, and small helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import jwt
import pytest
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity import demo_data
from services.identity.__main__ import wire
from services.identity.app_client import app_assertion
from services.runtime.service import RunningService
from tests.support.inprocess import serve


@dataclass
class Identity:
    service: RunningService
    channel: grpc.aio.Channel
    registry: identity_pb2_grpc.RegistryServiceStub
    customers: identity_pb2_grpc.CustomerServiceStub

    async def sign_in(
        self, app_id: str, app_user_id: str, level: int = 2, **claims: Any
    ) -> pb.SignInResponse:
        assertion = app_assertion(
            app_id=app_id,
            client_secret=demo_data.DEMO_APP_SECRETS[app_id],
            app_user_id=app_user_id,
            assurance_level=level,
            **claims,
        )
        return await self.customers.SignIn(pb.SignInRequest(app_id=app_id, assertion=assertion), timeout=5)

    async def verify(self, token: str, audience: str) -> dict[str, Any]:
        """Verify a token as the edge does: against the published JWKS, issuer and audience."""
        jwks = await self.registry.GetJwks(pb.GetJwksRequest(), timeout=5)
        keyset = jwt.PyJWKSet.from_dict(json.loads(jwks.jwks_json))
        kid = jwt.get_unverified_header(token)["kid"]
        key = next((k for k in keyset.keys if k.key_id == kid), None)
        if key is None:
            raise jwt.InvalidKeyError(f"kid {kid} is not published")
        return jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer="lattice-identity")

    async def caller(self, token: str, audience: str) -> pb.CustomerCaller:
        """The principal the gateway would pass down for a verified app token."""
        claims = await self.verify(token, audience)
        return pb.CustomerCaller(
            customer_id=claims["sub"],
            app_id=claims["aud"],
            assurance_level=int(claims["acr"]),
            token_id=claims["jti"],
            scopes=claims["scope"].split(),
        )

    def redeem_request(self, app_id: str, ticket: str, **claims: Any) -> pb.RedeemRecognitionTicketRequest:
        assertion = app_assertion(app_id=app_id, client_secret=demo_data.DEMO_APP_SECRETS[app_id], **claims)
        return pb.RedeemRecognitionTicketRequest(app_id=app_id, ticket=ticket, client_assertion=assertion)


@pytest.fixture(scope="module")
async def identity(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> AsyncIterator[Identity]:
    tmp = tmp_path_factory.mktemp("identity")
    async with serve("identity", wire, tmp_path=tmp, nats_url=nats_url) as (running, channel):
        await demo_data.load(channel)
        yield Identity(
            running,
            channel,
            identity_pb2_grpc.RegistryServiceStub(channel),
            identity_pb2_grpc.CustomerServiceStub(channel),
        )


def reason(err: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> str:
    return dict(err.value.trailing_metadata() or ()).get("lattice-reason", "")
