"""The three Lattice plugin servers, started as Kong would, against the session's real identity service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kong.harness import PluginServer, plugin_infos
from tools.stack import Stack

EDGE_SECRET = "kong-edge-secret-for-tests-0123"
SERVERS = ("lattice_partner_signature", "lattice_app_token", "lattice_operator_token")


@pytest.fixture(scope="session")
def kong_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths are limited to ~107 bytes: keep the prefix short.
    return tmp_path_factory.mktemp("kong", numbered=True)


@pytest.fixture(scope="session")
def plugin_servers(stack: Stack, kong_prefix: Path) -> Iterator[dict[str, PluginServer]]:
    env = {
        "IDENTITY_ADDR": stack.config.addr("identity"),
        "PKI_DIR": str(stack.config.pki_dir),
        "KONG_SHARED_SECRET": EDGE_SECRET,
        "REDIS_URL": "",
    }
    servers: dict[str, PluginServer] = {}
    try:
        infos = plugin_infos(SERVERS, kong_prefix)
        for name in SERVERS:  # the three start side by side
            servers[name] = PluginServer(name, kong_prefix, env, info=infos[name])
        for server in servers.values():
            server.wait_started()
        yield servers
    finally:
        for server in servers.values():
            server.stop()
