"""App-token and operator-token plugin servers driven as Kong would, with tokens from the real identity."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.gateway.keys import TokenIssuer
from tests.kong.conftest import EDGE_SECRET
from tests.kong.harness import PluginServer, ProxiedRequest
from tests.support.actors import operator_token, sign_in
from tools.journey import wait_until
from tools.stack import Stack

KONG = "http://kong.example"


def run(server: PluginServer, instance: int, path: str, headers: dict[str, str]) -> ProxiedRequest:
    kong = server.connect()
    try:
        return kong.access(instance, ProxiedRequest("GET", KONG + path, headers))
    finally:
        kong.close()


@pytest.fixture(scope="module")
def app_tokens(plugin_servers: dict[str, PluginServer], stack: Stack) -> tuple[PluginServer, int]:
    server = plugin_servers["lattice_app_token"]
    # the store the gateway marks ended sessions in (Redis, shared the same way, in the compose file)
    return server, server.start_instance({"store_path": str(stack.config.var_dir / "edge.db")})


@pytest.fixture(scope="module")
def operator_tokens(plugin_servers: dict[str, PluginServer]) -> tuple[PluginServer, int, int]:
    server = plugin_servers["lattice_operator_token"]
    return server, server.start_instance({}), server.start_instance({"min_role": "admin"})


def test_an_app_token_passes_only_on_its_own_app(
    gateway: httpx.Client, app_tokens: tuple[PluginServer, int]
) -> None:
    server, instance = app_tokens
    session = sign_in(gateway, "life", "l-2001", assurance_level=1)
    forged = {
        **session.headers,
        "X-Lattice-Auth-Customer": "cus_victim",
        "X-Lattice-Auth-Operator": "hq-admin",
    }
    done = run(server, instance, "/v1/apps/life/me", forged)
    assert done.exit is None
    assert done.upstream_headers["x-lattice-auth-customer"] == session.customer_id
    assert done.upstream_headers["x-lattice-auth-app"] == "life"
    assert done.upstream_headers["x-lattice-auth-secret"] == EDGE_SECRET
    assert "x-lattice-auth-operator" in done.cleared
    other_app = run(server, instance, "/v1/apps/mbank/me", session.headers)
    assert other_app.exit is not None and other_app.exit[0] == 401


def test_a_session_signed_out_everywhere_is_refused_at_kong_before_its_token_expires(
    gateway: httpx.Client, app_tokens: tuple[PluginServer, int]
) -> None:
    server, instance = app_tokens
    session = sign_in(gateway, "life", f"l-{uuid.uuid4().hex[:10]}")
    assert run(server, instance, "/v1/apps/life/me", session.headers).exit is None
    assert gateway.post("/v1/apps/life/logout-everywhere", headers=session.headers).status_code == 200

    def refused() -> bool:
        done = run(server, instance, "/v1/apps/life/me", session.headers)
        return done.exit is not None and done.exit[0] == 401 and "session_ended" in str(done.exit[1])

    wait_until("Kong's plugin to refuse the ended session", refused, timeout=10)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {TokenIssuer().token(aud='life', sub='cus_1')}"},
    ],
    ids=["none", "garbage", "foreign-key"],
)
def test_bad_app_tokens_stop_at_kong_with_a_problem(
    app_tokens: tuple[PluginServer, int], headers: dict
) -> None:
    server, instance = app_tokens
    done = run(server, instance, "/v1/apps/life/me", headers)
    assert done.exit is not None and done.exit[0] == 401
    assert done.exit[2]["Content-Type"] == "application/problem+json"
    assert "x-lattice-auth-secret" not in done.upstream_headers


def test_operator_tokens_carry_role_and_branch_and_meet_the_minimum_role(
    gateway: httpx.Client, operator_tokens: tuple[PluginServer, int, int]
) -> None:
    server, viewer_up, admin_only = operator_tokens
    branch = {"Authorization": f"Bearer {operator_token(gateway, 'sh-operator')}"}
    done = run(server, viewer_up, "/v1/ops/apps", branch)
    assert done.exit is None
    assert (
        done.upstream_headers["x-lattice-auth-operator"],
        done.upstream_headers["x-lattice-auth-role"],
    ) == (
        "sh-operator",
        "operator",
    )
    assert done.upstream_headers["x-lattice-auth-branch"] == "shanghai"
    refused = run(server, admin_only, "/v1/ops/apps", branch)
    assert refused.exit is not None and refused.exit[0] == 403
    admin = {"Authorization": f"Bearer {operator_token(gateway, 'hq-admin')}"}
    head_office = run(server, admin_only, "/v1/ops/apps", admin)
    assert head_office.exit is None and "x-lattice-auth-branch" not in head_office.upstream_headers


def test_a_customer_token_on_an_operator_route_is_403(
    gateway: httpx.Client, operator_tokens: tuple[PluginServer, int, int]
) -> None:
    server, instance, _ = operator_tokens
    session = sign_in(gateway, "mbank", "m-1001")
    done = run(server, instance, "/v1/ops/apps", session.headers)
    assert done.exit is not None and done.exit[0] == 403


def test_tokens_of_another_kind_or_for_no_registered_app_stop_at_kong(
    gateway: httpx.Client, app_tokens: tuple[PluginServer, int]
) -> None:
    server, instance = app_tokens
    staff = {"Authorization": f"Bearer {operator_token(gateway, 'hq-admin')}"}
    customer = sign_in(gateway, "mbank", "m-1001").headers
    for path, headers, status, code in (
        ("/v1/apps/lattice-ops/me", staff, 404, "app_not_found"),  # the operator audience is no app
        ("/v1/apps/mbank/me", staff, 401, "token_kind"),
        ("/v1/apps/no-such-app/me", customer, 404, "app_not_found"),
    ):
        done = run(server, instance, path, headers)
        assert done.exit is not None and done.exit[0] == status, (path, done.exit)
        assert f'"code": "{code}"' in str(done.exit[1])
        assert "x-lattice-auth-secret" not in done.upstream_headers
