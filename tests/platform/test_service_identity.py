"""Services authenticate their callers: every RPC of every service, enumerated from the descriptors,
refuses a caller without credentials, with a foreign CA's certificate, or of a service not on its list,
and refuses a forged or mismatched on-behalf-of assertion."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import jwt
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lattice.content.v1 import content_pb2
from lattice.identity.v1 import identity_pb2

from services.runtime.callers import CallerPolicy
from services.runtime.config import SERVICES, Settings
from services.runtime.grpc_client import channel_options, open_channel
from services.runtime.on_behalf import METADATA_KEY, Principal, act_for, acting, sign
from services.runtime.pki import IDENTITIES, ServiceIdentity, ensure_pki, load_identity
from services.runtime.service import RunningService, start_service

# Each process's gRPC APIs: identity serves two (the registry and keys, and the customers' side).
APIS = {"identity": ("RegistryService", "CustomerService")}
PROTOS = {
    s: [
        importlib.import_module(f"lattice.{s}.v1.{s}_pb2").DESCRIPTOR.services_by_name[name]
        for name in APIS.get(s, (f"{s.capitalize()}Service",))
    ]
    for s in SERVICES
}


def all_rpcs() -> Iterator[tuple[str, MethodDescriptor]]:
    for service, descriptors in PROTOS.items():
        for descriptor in descriptors:
            for method in descriptor.methods:
                yield service, method


def rpc_of(service: str, name: str) -> MethodDescriptor:
    return next(d.methods_by_name[name] for d in PROTOS[service] if name in d.methods_by_name)


RPCS = list(all_rpcs())
RPC_IDS = [f"{s}.{m.name}" for s, m in RPCS]


def callers_of(service: str) -> dict[str, frozenset[str]]:
    return importlib.import_module(f"services.{service}.__main__").CALLERS


@dataclass
class World:
    pki: Path
    running: dict[str, RunningService]

    def addr(self, service: str) -> str:
        return f"127.0.0.1:{self.running[service].port}"

    def identity(self, name: str) -> ServiceIdentity:
        return load_identity(name, self.pki)

    def channel(self, service: str, identity: ServiceIdentity | None) -> grpc.aio.Channel:
        if identity is None:
            return grpc.aio.insecure_channel(self.addr(service))
        return grpc.aio.secure_channel(
            self.addr(service), identity.channel_credentials, options=channel_options(service)
        )


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> AsyncIterator[World]:
    """The five services in-process, sharing one PKI (peers unreachable: nothing here calls them)."""
    var = tmp_path_factory.mktemp("svcid")
    pki = ensure_pki(var / "pki").resolve()
    settings = Settings(var_dir=var, nats_url=nats_url, environment="test", pki_dir=pki)
    running: dict[str, RunningService] = {}
    try:
        for service in SERVICES:
            wire = importlib.import_module(f"services.{service}.__main__").wire
            running[service] = await start_service(service, wire, settings, port=0)
        yield World(pki, running)
    finally:
        for svc in running.values():
            await svc.stop()


async def call(
    channel: grpc.aio.Channel,
    service: str,
    method: MethodDescriptor,
    request: object | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> grpc.StatusCode | str:
    """The status of one call (OK when it answered; CALLER_REFUSED when the caller check refused it)."""
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    stub = channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    try:
        await stub(request if request is not None else request_class(), timeout=5, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.PERMISSION_DENIED and "may not call" in (exc.details() or ""):
            return CALLER_REFUSED
        return exc.code()
    return grpc.StatusCode.OK


CALLER_REFUSED = "caller refused"  # PERMISSION_DENIED by the caller check, not by the service's rules


def test_every_rpc_of_every_service_declares_its_callers() -> None:
    for service, descriptors in PROTOS.items():
        table = callers_of(service)
        assert set(table) == {m.name for d in descriptors for m in d.methods}, service
        for method, callers in table.items():
            assert callers, f"{service}.{method} admits nobody"
            assert callers <= set(IDENTITIES), f"{service}.{method}: {callers}"
    assert callers_of("identity")["GetPartnerSigningKey"] == {"gateway", "edge"}


@pytest.mark.parametrize(("service", "method"), RPCS, ids=RPC_IDS)
async def test_a_caller_without_credentials_is_refused(
    world: World, service: str, method: MethodDescriptor
) -> None:
    async with world.channel(service, None) as channel:
        assert await call(channel, service, method) == grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_from_another_ca_is_refused_on_every_rpc(world: World, tmp_path: Path) -> None:
    impostor = load_identity("gateway", ensure_pki(tmp_path / "other-pki", identities=("gateway",)).resolve())
    for service, method in RPCS:
        async with world.channel(service, impostor) as channel:
            assert await call(channel, service, method) == grpc.StatusCode.UNAVAILABLE, (service, method.name)


async def test_a_server_must_present_the_certificate_of_the_service_asked_for(world: World) -> None:
    """Reaching benefits' port while asking for identity fails the handshake (a misrouted address)."""
    channel = grpc.aio.secure_channel(
        world.addr("benefits"),
        world.identity("gateway").channel_credentials,
        options=channel_options("identity"),
    )
    async with channel:
        method = rpc_of("identity", "GetJwks")
        assert await call(channel, "identity", method) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(("service", "method"), RPCS, ids=RPC_IDS)
async def test_a_service_not_on_the_list_is_permission_denied(
    world: World, service: str, method: MethodDescriptor
) -> None:
    allowed = callers_of(service)[method.name]
    for name in IDENTITIES:
        async with world.channel(service, world.identity(name)) as channel:
            status = await call(channel, service, method)
        if name in allowed:
            assert status not in (CALLER_REFUSED, grpc.StatusCode.UNAVAILABLE), name
        else:
            assert status == CALLER_REFUSED, (name, status)


async def test_health_is_open_to_every_identity_of_the_ca(world: World) -> None:
    for service in SERVICES:
        for name in IDENTITIES:
            async with world.channel(service, world.identity(name)) as channel:
                resp = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
                assert resp.status == health_pb2.HealthCheckResponse.SERVING


# --- on whose behalf ------------------------------------------------------------------------------

OPERATOR = Principal("operator", "op-anna", role="operator", branch="")
ITEM = content_pb2.GetItemRequest(
    actor=content_pb2.Actor(operator_id="op-anna", role="operator", branch=""), item_id="missing"
)
PROFILE = identity_pb2.GetCustomerProfileRequest(
    caller=identity_pb2.CustomerCaller(customer_id="cus_a", app_id="mbank", assurance_level=2)
)
CUSTOMER = Principal("customer", "cus_a", app="mbank")


async def _as_gateway(
    world: World, service: str, rpc: str, request: object, token: str | None
) -> grpc.StatusCode:
    metadata = ((METADATA_KEY, token),) if token is not None else ()
    async with world.channel(service, world.identity("gateway")) as channel:
        return await call(channel, service, rpc_of(service, rpc), request, metadata)


async def test_principal_fields_from_the_gateway_need_an_assertion(world: World) -> None:
    assert await _as_gateway(world, "content", "GetItem", ITEM, None) == grpc.StatusCode.UNAUTHENTICATED
    assert await _as_gateway(world, "identity", "GetCustomerProfile", PROFILE, None) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


async def test_a_matching_assertion_is_believed(world: World) -> None:
    token = sign(OPERATOR, identity=world.identity("gateway"))
    assert await _as_gateway(world, "content", "GetItem", ITEM, token) == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "asserted",
    [
        Principal("operator", "op-ben", role="operator"),  # another operator
        Principal("operator", "op-anna", role="operator", branch="shenzhen"),  # branch claims head office
        Principal("operator", "op-anna", role="viewer"),  # role escalated in the request
        Principal("customer", "op-anna", app="mbank"),  # another kind
    ],
)
async def test_an_assertion_that_disagrees_with_the_request_is_refused(
    world: World, asserted: Principal
) -> None:
    token = sign(asserted, identity=world.identity("gateway"))
    assert await _as_gateway(world, "content", "GetItem", ITEM, token) in (
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    )


@pytest.mark.parametrize(
    "asserted",
    [Principal("customer", "cus_b", app="mbank"), Principal("customer", "cus_a", app="life")],
)
async def test_a_customer_assertion_for_someone_else_is_refused(world: World, asserted: Principal) -> None:
    token = sign(asserted, identity=world.identity("gateway"))
    status = await _as_gateway(world, "identity", "GetCustomerProfile", PROFILE, token)
    assert status == grpc.StatusCode.PERMISSION_DENIED


def _expired(identity: ServiceIdentity) -> str:
    """The gateway's genuine assertion of the right principal, two minutes past its expiry."""
    token = sign(OPERATOR, identity=identity)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(iat=claims["iat"] - 300, exp=claims["exp"] - 180)
    return jwt.encode(claims, identity.private_key, algorithm="ES256", headers={"x5c": header["x5c"]})


async def test_forged_assertions_are_refused(world: World, tmp_path: Path) -> None:
    foreign = load_identity("gateway", ensure_pki(tmp_path / "other-pki", identities=("gateway",)).resolve())
    genuine = sign(OPERATOR, identity=world.identity("gateway"))
    head, body, signature = genuine.split(".")
    other_body = sign(
        Principal("operator", "op-anna", role="admin"), identity=world.identity("gateway")
    ).split(".")[1]
    forged = [
        sign(OPERATOR, identity=foreign),  # a gateway certificate from another CA
        sign(OPERATOR, identity=world.identity("reach")),  # a genuine service that may not vouch
        f"{head}.{other_body}.{signature}",  # claims swapped under the gateway's signature
        f"{head}.{body}.{signature[:-4]}AAAA",  # a broken signature
        "not-a-jwt",
        _expired(world.identity("gateway")),
    ]
    for token in forged:
        assert (
            await _as_gateway(world, "content", "GetItem", ITEM, token) == grpc.StatusCode.UNAUTHENTICATED
        ), token


def test_in_production_the_tools_identity_only_checks_health() -> None:
    policy = CallerPolicy(tools=False)
    for service, descriptors in PROTOS.items():
        for descriptor in descriptors:
            policy.declare(descriptor, {m.name: callers_of(service)[m.name] for m in descriptor.methods})
    declared = policy.declared()
    assert all("tools" not in callers for rpc, callers in declared.items() if "grpc.health" not in rpc)
    assert "tools" in declared["/grpc.health.v1.Health/Check"]
    assert declared["/lattice.identity.v1.CustomerService/SignIn"] == {"gateway"}


async def test_the_gateways_channels_carry_the_principal_of_the_request(world: World) -> None:
    """open_channel (the gateway's Clients) signs the principal its auth dependency set, once."""
    channel = open_channel(world.addr("content"), peer="content", identity=world.identity("gateway"))
    stub = channel.unary_unary(
        "/lattice.content.v1.ContentService/GetItem",
        request_serializer=content_pb2.GetItemRequest.SerializeToString,
        response_deserializer=content_pb2.GetItemResponse.FromString,
    )
    other = content_pb2.GetItemRequest(
        actor=content_pb2.Actor(operator_id="op-ben", role="operator"), item_id="x"
    )

    async def status(request: content_pb2.GetItemRequest) -> grpc.StatusCode:
        try:
            await stub(request, timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    async with channel:
        assert await status(ITEM) == grpc.StatusCode.UNAUTHENTICATED  # no principal set: none sent
        act_for(OPERATOR)
        try:
            assert await status(ITEM) == grpc.StatusCode.NOT_FOUND
            assert await status(other) == grpc.StatusCode.PERMISSION_DENIED
            signed = acting.get()
            assert signed is not None and signed.token(world.identity("gateway")) == signed._token
        finally:
            acting.set(None)
