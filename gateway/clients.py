"""gRPC stubs of the five services, on channels opened in the gateway's lifespan (each stub built once:
a stub builds a callable per RPC, which cost every request when built per access)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated

import grpc
from fastapi import Depends, Request
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lattice.benefits.v1 import benefits_pb2_grpc
from lattice.content.v1 import content_pb2_grpc
from lattice.conversion.v1 import conversion_pb2_grpc
from lattice.identity.v1 import identity_pb2_grpc
from lattice.reach.v1 import reach_pb2_grpc

from gateway.openapi_marks import documents
from gateway.problems import HTTP_BY_GRPC
from services.runtime.config import SERVICES, Settings, grpc_service_name
from services.runtime.grpc_client import open_channel
from services.runtime.pki import own_identity


class IdentityStub(identity_pb2_grpc.RegistryServiceStub, identity_pb2_grpc.CustomerServiceStub):
    """identity's two APIs over its one channel: the registry and keys, and the customers' side."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        identity_pb2_grpc.RegistryServiceStub.__init__(self, channel)
        identity_pb2_grpc.CustomerServiceStub.__init__(self, channel)


@dataclass
class Clients:
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings) -> Clients:
        """Mutual-TLS channels to every service, as the gateway's identity."""
        identity = own_identity(settings, "gateway")
        return cls(
            {
                s: open_channel(
                    settings.addr(s), peer=s, identity=identity, default_timeout_s=settings.rpc_timeout_s
                )
                for s in SERVICES
            }
        )

    @cached_property
    def identity(self) -> IdentityStub:
        return IdentityStub(self.channels["identity"])

    @cached_property
    def benefits(self) -> benefits_pb2_grpc.BenefitsServiceStub:
        return benefits_pb2_grpc.BenefitsServiceStub(self.channels["benefits"])

    @cached_property
    def content(self) -> content_pb2_grpc.ContentServiceStub:
        return content_pb2_grpc.ContentServiceStub(self.channels["content"])

    @cached_property
    def reach(self) -> reach_pb2_grpc.ReachServiceStub:
        return reach_pb2_grpc.ReachServiceStub(self.channels["reach"])

    @cached_property
    def conversion(self) -> conversion_pb2_grpc.ConversionServiceStub:
        return conversion_pb2_grpc.ConversionServiceStub(self.channels["conversion"])

    async def health(self) -> dict[str, str]:
        """SERVING / NOT_SERVING / NOT_FOUND / UNAVAILABLE for every service (asked for by its API's
        name, so a wrong address answered by another server does not count as ready)."""
        result: dict[str, str] = {}
        for name, channel in self.channels.items():
            try:
                resp = await health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]  # the stubs' HealthStub declares no RPC methods
                    health_pb2.HealthCheckRequest(service=grpc_service_name(name)), timeout=1.0
                )
                result[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            except grpc.aio.AioRpcError as exc:
                result[name] = exc.code().name
        return result

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()


# a service's gRPC error becomes the problem HTTP_BY_GRPC maps it to
@documents(*sorted({s for s in HTTP_BY_GRPC.values()}))
async def get_clients(request: Request) -> Clients:  # async: FastAPI runs a plain def in a thread
    return request.app.state.clients


ClientsDep = Annotated[Clients, Depends(get_clients)]
