"""The services' serving runtime traces and measures every call itself (no OpenTelemetry gRPC server
instrumentation): one server span per call, child of the caller's span, with the attributes the
trace views and dashboards read; status codes from the caller check, the assertion, domain errors
and the servicer's own aborts; no spans for health checks. And the on-behalf-of assertions, now
written and checked without a JWT library, stay interchangeable with standard ES256 JWTs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc
from opentelemetry import propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime.callers import GATEWAY, CallerPolicy
from services.runtime.deadlines import current_deadline
from services.runtime.errors import NotFound, Unavailable
from services.runtime.grpc_client import CallInterceptor, channel_options
from services.runtime.grpc_server import ServingInterceptor
from services.runtime.on_behalf import (
    METADATA_KEY,
    AssertionRefused,
    AssertionVerifier,
    Principal,
    act_for,
    acting,
    assertion_for,
    sign,
)
from services.runtime.pki import ServiceIdentity, ensure_pki, load_identity

CUSTOMERS = pb.DESCRIPTOR.services_by_name["CustomerService"]
PROFILE = "/lattice.identity.v1.CustomerService/GetCustomerProfile"
CONSENTS = "/lattice.identity.v1.CustomerService/ListConsents"
SIGN_OUT = "/lattice.identity.v1.CustomerService/SignOutEverywhere"
CUSTOMER = Principal("customer", "cus_a", app="mbank")


class Customers(identity_pb2_grpc.CustomerServiceServicer):
    """A profile for cus_a, a domain error per other customer, and an abort of the servicer's own."""

    async def GetCustomerProfile(self, request, context):
        if request.caller.customer_id == "cus_busy":
            raise Unavailable("database_busy", "the database is busy; retry the request")
        if request.caller.customer_id not in ("", "cus_a"):
            raise NotFound("customer_not_found")
        return pb.GetCustomerProfileResponse(profile=pb.CustomerProfile(app_id="mbank"))

    async def ListConsents(self, request, context):
        await context.abort(grpc.StatusCode.OUT_OF_RANGE, "page token from another list")

    def SignOutEverywhere(self, request, context):
        raise RuntimeError("a bug")


@dataclass
class Served:
    pki: Path
    port: int
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def identity(self, name: str) -> ServiceIdentity:
        return load_identity(name, self.pki)

    def channel(self, name: str) -> grpc.aio.Channel:
        return grpc.aio.secure_channel(
            f"127.0.0.1:{self.port}",
            self.identity(name).channel_credentials,
            options=channel_options("identity"),
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def durations(self) -> dict[tuple[str, str], int]:
        data = self.metrics.get_metrics_data()
        counts: dict[tuple[str, str], int] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "rpc.server.duration":
                        for point in metric.data.data_points:
                            assert isinstance(point, HistogramDataPoint)
                            attrs = point.attributes or {}
                            counts[(str(attrs["rpc.method"]), str(attrs["rpc.grpc.status_code"]))] = (
                                point.count
                            )
        return counts


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    pki = ensure_pki(tmp_path / "pki").resolve()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    policy = CallerPolicy()
    policy.declare(CUSTOMERS, {m.name: GATEWAY for m in CUSTOMERS.methods})
    identity = load_identity("identity", pki)
    interceptor = ServingInterceptor(
        policy,
        identity,
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    server = grpc.aio.server(interceptors=[interceptor])
    identity_pb2_grpc.add_CustomerServiceServicer_to_server(Customers(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", identity.server_credentials())
    await server.start()
    try:
        yield Served(pki, port, spans, reader)
    finally:
        await server.stop(grace=1)


def _request(customer: str) -> pb.GetCustomerProfileRequest:
    return pb.GetCustomerProfileRequest(caller=pb.CustomerCaller(customer_id=customer, app_id="mbank"))


async def _call(
    served: Served,
    path: str,
    request: Any,
    *,
    caller: str = "gateway",
    metadata: tuple[tuple[str, str], ...] = (),
) -> grpc.StatusCode:
    async with served.channel(caller) as channel:
        stub = channel.unary_unary(
            path, request_serializer=type(request).SerializeToString, response_deserializer=lambda b: b
        )
        try:
            await stub(request, metadata=metadata, timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def _as(principal: Principal, served: Served) -> tuple[str, str]:
    return (METADATA_KEY, sign(principal, identity=served.identity("gateway")))


async def test_a_served_call_is_one_server_span_child_of_the_callers_span(served: Served) -> None:
    client_tracer = TracerProvider().get_tracer("caller")
    with client_tracer.start_as_current_span("GET /v1/apps/{app_id}/me") as parent:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        metadata = (_as(CUSTOMER, served), *carrier.items())
        assert await _call(served, PROFILE, _request("cus_a"), metadata=metadata) == grpc.StatusCode.OK
    [span] = served.finished()
    assert span.name == PROFILE
    assert span.kind == trace.SpanKind.SERVER
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == parent.get_span_context().trace_id
    assert span.parent.span_id == parent.get_span_context().span_id and span.parent.is_remote
    attributes = dict(span.attributes or {})
    assert attributes["rpc.system"] == "grpc"
    assert attributes["rpc.service"] == "lattice.identity.v1.CustomerService"
    assert attributes["rpc.method"] == "GetCustomerProfile"
    assert attributes["rpc.grpc.status_code"] == 0
    assert attributes["net.peer.ip"] == "127.0.0.1" and attributes["net.peer.name"] == "localhost"
    assert str(attributes["rpc.user_agent"]).startswith("grpc-python")
    assert span.status.status_code == trace.StatusCode.UNSET
    assert served.durations() == {(PROFILE, "OK"): 1}


async def test_every_way_a_call_fails_has_its_status_on_the_span_and_the_metric(served: Served) -> None:
    forged = (("lattice-on-behalf-of", "x.y.z"),)
    cus_b, busy = (Principal("customer", c, app="mbank") for c in ("cus_b", "cus_busy"))
    code = grpc.StatusCode
    cases = [
        ("reach", PROFILE, _request("cus_a"), (), code.PERMISSION_DENIED),  # not on the list
        ("gateway", PROFILE, _request("cus_a"), (), code.UNAUTHENTICATED),  # no assertion
        ("gateway", PROFILE, _request("cus_a"), forged, code.UNAUTHENTICATED),
        ("gateway", PROFILE, _request("cus_b"), (_as(cus_b, served),), code.NOT_FOUND),  # a domain error
        ("gateway", PROFILE, _request("cus_busy"), (_as(busy, served),), code.UNAVAILABLE),  # a retryable one
        ("gateway", CONSENTS, pb.ListConsentsRequest(), (), code.OUT_OF_RANGE),  # the servicer's abort
        ("gateway", SIGN_OUT, pb.SignOutEverywhereRequest(), (), code.UNKNOWN),  # an exception
    ]
    for caller, path, request, metadata, expected in cases:
        assert await _call(served, path, request, caller=caller, metadata=metadata) == expected, expected
    spans = served.finished()
    assert [s.attributes["rpc.grpc.status_code"] for s in spans if s.attributes] == [
        c[-1].value[0] for c in cases
    ]
    by_code = {grpc.StatusCode(c[-1]): s for c, s in zip(cases, spans, strict=True)}
    # span status ERROR only for the codes that mean the server failed (OpenTelemetry's conventions)
    assert by_code[grpc.StatusCode.UNAVAILABLE].status.status_code == trace.StatusCode.ERROR
    assert "the database is busy" in (by_code[grpc.StatusCode.UNAVAILABLE].status.description or "")
    assert by_code[grpc.StatusCode.UNKNOWN].status.status_code == trace.StatusCode.ERROR
    assert [e.name for e in by_code[grpc.StatusCode.UNKNOWN].events] == ["exception"]
    for client_error in (code.NOT_FOUND, code.PERMISSION_DENIED, code.OUT_OF_RANGE):
        assert by_code[client_error].status.status_code == trace.StatusCode.UNSET
    # the duration metric counts the calls that reached the servicer, under the code they ended with
    assert served.durations() == {
        (PROFILE, "NOT_FOUND"): 1,
        (PROFILE, "UNAVAILABLE"): 1,
        (CONSENTS, "OUT_OF_RANGE"): 1,
        (SIGN_OUT, "UNKNOWN"): 1,
    }


async def test_health_checks_are_answered_but_not_traced(served: Served) -> None:
    async with served.channel("tools") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]  # the stubs' HealthStub declares no RPC methods
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert served.finished() == []


async def test_repeated_calls_reuse_the_methods_work_but_check_each_call(served: Served) -> None:
    """The wrapped handler is kept per method; the caller and the assertion are still checked per call."""
    ok = (_as(CUSTOMER, served),)
    for _ in range(3):
        assert await _call(served, PROFILE, _request("cus_a"), metadata=ok) == grpc.StatusCode.OK
        assert await _call(served, PROFILE, _request("cus_a"), caller="reach", metadata=ok) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
        assert await _call(served, PROFILE, _request("cus_a")) == grpc.StatusCode.UNAUTHENTICATED
    assert len(served.finished()) == 9


def test_assertions_are_standard_es256_jwts(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki").resolve()
    gateway = load_identity("gateway", pki)
    token = sign(CUSTOMER, identity=gateway)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["x5c"]
    claims = jwt.decode(token, gateway.private_key.public_key(), algorithms=["ES256"])
    assert (claims["kind"], claims["sub"], claims["app"], claims["iss"]) == (
        "customer",
        "cus_a",
        "mbank",
        "gateway",
    )
    assert claims["exp"] - claims["iat"] == 60
    # and a JWT library's token of the same claims is believed
    now = int(time.time())
    written = jwt.encode(
        {"kind": "partner", "sub": "shop", "iat": now, "exp": now + 60},
        gateway.private_key,
        algorithm="ES256",
        headers={"x5c": header["x5c"]},
    )
    assert AssertionVerifier(gateway.ca_certificate).verify(written) == Principal("partner", "shop")


def test_assertions_with_another_algorithm_or_bad_claims_are_refused(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki").resolve()
    gateway = load_identity("gateway", pki)
    x5c = jwt.get_unverified_header(sign(CUSTOMER, identity=gateway))["x5c"]
    now = int(time.time())
    good = {"kind": "customer", "sub": "cus_a", "app": "mbank", "iat": now, "exp": now + 60}
    key = gateway.private_key
    refused = [
        jwt.encode(good, "a-shared-secret-of-at-least-32-bytes!", algorithm="HS256", headers={"x5c": x5c}),
        jwt.encode(good, None, algorithm="none", headers={"x5c": x5c}),  # type: ignore[arg-type]  # the unsigned JWT
        jwt.encode(
            {**good, "iat": now + 600}, key, algorithm="ES256", headers={"x5c": x5c}
        ),  # issued in the future
        jwt.encode({**good, "nbf": now + 600}, key, algorithm="ES256", headers={"x5c": x5c}),
        jwt.encode({**good, "aud": "somebody"}, key, algorithm="ES256", headers={"x5c": x5c}),
        jwt.encode({**good, "exp": "soon"}, key, algorithm="ES256", headers={"x5c": x5c}),
        jwt.encode(
            {k: v for k, v in good.items() if k != "exp"}, key, algorithm="ES256", headers={"x5c": x5c}
        ),
        jwt.encode({**good, "sub": 7}, key, algorithm="ES256", headers={"x5c": x5c}),
        jwt.encode(good, key, algorithm="ES256", headers={"x5c": x5c, "crit": ["exp"]}),
        jwt.encode(good, key, algorithm="ES256"),  # no certificate
    ]
    verifier = AssertionVerifier(gateway.ca_certificate)
    assert verifier.verify(jwt.encode(good, key, algorithm="ES256", headers={"x5c": x5c})) == CUSTOMER
    for token in refused:
        with pytest.raises(AssertionRefused):
            verifier.verify(token)


def test_a_principals_assertion_is_reused_while_half_its_life_is_left(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki").resolve()
    gateway, reach = load_identity("gateway", pki), load_identity("reach", pki)
    first = assertion_for(CUSTOMER, identity=gateway)
    assert assertion_for(CUSTOMER, identity=gateway) == first
    assert assertion_for(Principal("customer", "cus_a", app="life"), identity=gateway) != first
    assert assertion_for(CUSTOMER, identity=reach) != first
    claims = jwt.decode(first, options={"verify_signature": False})
    assert claims["exp"] - time.time() > 30 - 1


def _traced_channel(served: Served, provider: TracerProvider) -> grpc.aio.Channel:
    """A runtime channel (the gateway's interceptor) tracing into `provider`."""
    gateway = served.identity("gateway")
    return grpc.aio.secure_channel(
        f"127.0.0.1:{served.port}",
        gateway.channel_credentials,
        interceptors=[CallInterceptor(gateway, 5.0, tracer_provider=provider)],
        options=channel_options("identity"),
    )


async def test_a_runtime_channel_traces_its_calls_and_carries_the_principal(served: Served) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    async with _traced_channel(served, provider) as channel:
        stub = identity_pb2_grpc.CustomerServiceStub(channel)
        act_for(CUSTOMER)
        try:
            reply = await stub.GetCustomerProfile(_request("cus_a"))
            assert reply.profile.app_id == "mbank"
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetCustomerProfile(_request("cus_b"))  # disagrees with the principal
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            acting.set(None)
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())  # type: ignore[attr-defined]  # the stubs' HealthStub declares no RPC methods
    ok, denied = spans.get_finished_spans()  # health checks are not traced
    for span in (ok, denied):
        assert span.name == PROFILE and span.kind == trace.SpanKind.CLIENT
        assert (
            span.attributes is not None
            and span.attributes["rpc.service"] == "lattice.identity.v1.CustomerService"
        )
    assert ok.attributes is not None and ok.attributes["rpc.grpc.status_code"] == 0
    assert ok.status.status_code == trace.StatusCode.UNSET
    assert denied.attributes is not None and denied.attributes["rpc.grpc.status_code"] == 7
    assert denied.status.status_code == trace.StatusCode.ERROR
    # each server span is the child of its client span: the context travelled in the metadata
    servers = served.finished()
    assert [s.parent.span_id for s in servers if s.parent] == [
        c.context.span_id for c in (ok, denied) if c.context
    ]
    assert {s.context.trace_id for s in servers if s.context} == {
        c.context.trace_id for c in (ok, denied) if c.context
    }


async def test_a_runtime_channel_gives_a_call_no_more_than_the_time_left(served: Served) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    async with _traced_channel(served, provider) as channel:
        stub = identity_pb2_grpc.CustomerServiceStub(channel)
        token = current_deadline.set(time.monotonic() - 0.01)  # the request being served is out of time
        try:
            with pytest.raises(grpc.aio.AioRpcError) as late:
                await stub.GetCustomerProfile(pb.GetCustomerProfileRequest())
        finally:
            current_deadline.reset(token)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert served.finished() == []  # never sent
    [span] = spans.get_finished_spans()
    assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 4
    assert [e.name for e in span.events] == ["exception"]
