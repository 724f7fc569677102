"""ListOperators enforces role and branch scope in identity itself, not only at the gateway."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity.__main__ import wire
from tests.support.inprocess import serve

STAFF = [("hq-a", "admin", ""), ("hq-v", "viewer", ""), ("sh-a", "admin", "shanghai"),
         ("sh-o", "operator", "shanghai"), ("bj-o", "operator", "beijing")]  # fmt: skip


async def test_role_and_branch_scope_are_enforced_by_identity(tmp_path: Path, nats_url: str) -> None:
    async with serve("identity", wire, tmp_path=tmp_path, nats_url=nats_url) as (_svc, channel):
        stub = identity_pb2_grpc.RegistryServiceStub(channel)
        for operator_id, role, branch in STAFF:
            await stub.RegisterOperator(
                pb.RegisterOperatorRequest(operator_id=operator_id, role=role, branch=branch), timeout=5
            )

        async def ids(actor: pb.OperatorActor, **filters: object) -> list[str]:
            request = pb.ListOperatorsRequest(actor=actor, page_size=2, **filters)
            found: list[str] = []
            while True:
                resp = await stub.ListOperators(request, timeout=5)
                found += [o.operator_id for o in resp.operators]
                assert not any(hasattr(o, "secret_hash") for o in resp.operators)
                if not resp.next_page_token:
                    return found
                request.page_token = resp.next_page_token

        head_office = pb.OperatorActor(operator_id="hq-a", role="admin")
        assert await ids(head_office) == sorted(o for o, _, _ in STAFF)
        assert await ids(head_office, branch="-") == ["hq-a", "hq-v"]
        assert await ids(head_office, role="operator") == ["bj-o", "sh-o"]
        shanghai = pb.OperatorActor(operator_id="sh-a", role="admin", branch="shanghai")
        assert await ids(shanghai) == ["sh-a", "sh-o"]
        refusals = [
            (shanghai, {"branch": "beijing"}, "branch_scope"),
            (shanghai, {"branch": "-"}, "branch_scope"),
            (pb.OperatorActor(operator_id="hq-v", role="viewer"), {}, "role_required"),
            (pb.OperatorActor(operator_id="sh-o", role="operator", branch="shanghai"), {}, "role_required"),
        ]
        for actor, filters, reason in refusals:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ListOperators(pb.ListOperatorsRequest(actor=actor, **filters), timeout=5)
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert dict(err.value.trailing_metadata() or ()).get("lattice-reason") == reason
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListOperators(pb.ListOperatorsRequest(actor=head_office, role="root"), timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
