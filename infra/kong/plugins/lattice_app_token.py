#!/usr/bin/env python3
"""Kong plugin lattice-app-token: verifies a customer's app token for the app in the path."""

from __future__ import annotations

from typing import Any

import lattice_kong

from gateway.policies import trusted_headers
from gateway.policies.denial import unauthenticated
from gateway.policies.tokens import AppTokenPolicy, app_id_from_path

version = "1.0.0"
priority = 1010
# store_path: the edge store the gateway marks ended sessions in (REDIS_URL, when set, wins)
Schema = (
    *lattice_kong.COMMON_SCHEMA,
    {"store_path": {"type": "string", "required": False, "default": lattice_kong.DEFAULT_STORE_PATH}},
)


class Plugin:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def _policy(self) -> AppTokenPolicy:
        jwks = lattice_kong.jwks_cache(self.config)
        store = lattice_kong.edge_store(self.config)
        apps = lattice_kong.app_registry(self.config)
        return lattice_kong.shared(
            "app-token", self.config, lambda: AppTokenPolicy(jwks, ended_sessions=store, apps=apps)
        )

    def access(self, kong: Any) -> None:
        def handle() -> None:
            headers = lattice_kong.request_headers(kong)
            secret = lattice_kong.edge_secret(self.config)
            app_id = app_id_from_path(kong.request.get_path())
            if app_id is None:
                raise unauthenticated("unauthenticated", "customer routes live under /v1/apps/{app_id}/")
            claims = self._policy().authenticate(authorization=headers.get("authorization"), app_id=app_id)
            lattice_kong.pass_identity(kong, headers, trusted_headers.customer_headers(claims, secret=secret))

        lattice_kong.guarded(kong, handle)


if __name__ == "__main__":
    lattice_kong.serve("lattice-app-token", Plugin, version=version, priority=priority, schema=list(Schema))
