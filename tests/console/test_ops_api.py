"""OpsApi against the real gateway: token renewal, problems with trace ids, the operator API only."""

from __future__ import annotations

import time

import httpx
import pytest

from console.api import ApiProblem, OpsApi, ops_path, sign_in
from console.session import Session, SignInRequired
from services.identity.demo_data import DEMO_OPERATOR_SECRETS


def _session() -> Session:
    now = time.time()
    return Session(id="test", created=now, last_seen=now)


async def test_a_running_out_operator_token_asks_to_sign_in_again_and_no_secret_is_kept(stack):
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=20) as client:
        session = _session()
        secret = DEMO_OPERATOR_SECRETS["hq-admin"]
        await sign_in(client, session, "hq-admin", secret, [])
        assert session.role == "admin" and session.branch == "" and session.signed_in
        assert secret not in session.to_json() and secret not in repr(session)  # used once, kept nowhere
        trace_ids: list[str] = []
        apps = await OpsApi(client, session, trace_ids).get("/v1/ops/apps")
        assert apps and trace_ids and all(len(t) == 32 for t in trace_ids), "every call's trace id is kept"
        session.token_expires = time.time() + 5  # less than a page's worth of life left
        with pytest.raises(SignInRequired):
            await OpsApi(client, session, []).get("/v1/ops/apps")
        assert session.notice == "auth.renew" and session.operator_id == "hq-admin"


async def test_a_token_the_api_refuses_ends_the_sign_in(stack):
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=20) as client:
        revoked = _session()
        await sign_in(client, revoked, "hq-viewer", DEMO_OPERATOR_SECRETS["hq-viewer"], [])
        revoked.token = "not-a-token"
        with pytest.raises(SignInRequired):  # the API's 401: the session ends
            await OpsApi(client, revoked, []).get("/v1/ops/apps")


async def test_a_refusal_arrives_as_a_problem_with_its_code_fields_and_trace(stack):
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=20) as client:
        session = _session()
        await sign_in(client, session, "sh-operator", DEMO_OPERATOR_SECRETS["sh-operator"], [])
        api = OpsApi(client, session, [])
        with pytest.raises(ApiProblem) as refused:
            await api.post("/v1/ops/operators", {"operator_id": "x", "role": "admin"})
        assert refused.value.status == 403 and refused.value.trace_id
        with pytest.raises(ApiProblem) as invalid:
            await api.get("/v1/ops/partners", {"page_size": 0})
        assert invalid.value.status == 422 and "page_size" in invalid.value.field_errors
        with pytest.raises(ApiProblem) as wrong:
            await sign_in(client, _session(), "sh-operator", "wrong-secret-0123456789", [])
        assert wrong.value.status == 401


async def test_only_the_operator_api_can_be_called_and_ids_cannot_climb_out_of_it():
    api = OpsApi(httpx.AsyncClient(base_url="http://127.0.0.1:9"), _session(), [])
    for path in ("/v1/customers/me", "/v1/ops/../customers/me", "/readyz", "http://evil.example/v1/ops/x"):
        with pytest.raises(ValueError):
            await api.get(path)
    assert ops_path("/v1/ops/items/{}", "a/../b?c=d#e") == "/v1/ops/items/a%2F..%2Fb%3Fc%3Dd%23e"
    for bad in ("", ".", ".."):
        with pytest.raises(ApiProblem):
            ops_path("/v1/ops/items/{}", bad)
