"""The registry RPCs through the generated stub against a real in-process server."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity.__main__ import wire
from tests.support.inprocess import serve


async def test_register_partner_then_duplicate_is_already_exists(tmp_path: Path, nats_url: str) -> None:
    async with serve("identity", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = identity_pb2_grpc.RegistryServiceStub(channel)
        partner = pb.Partner(partner_id="ride", name="Ride", sector="mobility")
        resp = await stub.RegisterPartner(pb.RegisterPartnerRequest(partner=partner), timeout=5)
        assert resp.partner.partner_id == "ride"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RegisterPartner(pb.RegisterPartnerRequest(partner=partner), timeout=5)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        listed = await stub.ListPartners(pb.ListPartnersRequest(page_size=10), timeout=5)
        assert [p.partner_id for p in listed.partners] == ["ride"]


async def test_invalid_partner_id_is_invalid_argument(tmp_path: Path, nats_url: str) -> None:
    async with serve("identity", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = identity_pb2_grpc.RegistryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RegisterPartner(
                pb.RegisterPartnerRequest(partner=pb.Partner(partner_id="Bad Id!", name="x")), timeout=5
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
