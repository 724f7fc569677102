#!/usr/bin/env python3
"""Kong plugin lattice-operator-token: verifies an operator token and the route group's minimum role."""

from __future__ import annotations

from typing import Any

import lattice_kong

from gateway.policies import trusted_headers
from gateway.policies.denial import PolicyDenied
from gateway.policies.operator_scope import ROLES, role_at_least
from gateway.policies.tokens import OperatorTokenPolicy

version = "1.0.0"
priority = 1010
Schema = (
    *lattice_kong.COMMON_SCHEMA,
    {"min_role": {"type": "string", "required": True, "default": "viewer", "one_of": list(ROLES)}},
    # the edge store the gateway marks withdrawn signing keys in (REDIS_URL, when set, wins)
    {"store_path": {"type": "string", "required": False, "default": lattice_kong.DEFAULT_STORE_PATH}},
)


class Plugin:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def _policy(self) -> OperatorTokenPolicy:
        jwks = lattice_kong.jwks_cache(self.config)
        store = lattice_kong.edge_store(self.config)
        return lattice_kong.shared(
            "operator-token", self.config, lambda: OperatorTokenPolicy(jwks, revoked=store)
        )

    def access(self, kong: Any) -> None:
        def handle() -> None:
            headers = lattice_kong.request_headers(kong)
            secret = lattice_kong.edge_secret(self.config)
            claims = self._policy().authenticate(authorization=headers.get("authorization"))
            required = self.config.get("min_role", "viewer")
            if not role_at_least(claims.role, required):
                raise PolicyDenied(403, "role_required", f"this route group needs the {required} role")
            lattice_kong.pass_identity(kong, headers, trusted_headers.operator_headers(claims, secret=secret))

        lattice_kong.guarded(kong, handle)


if __name__ == "__main__":
    lattice_kong.serve(
        "lattice-operator-token", Plugin, version=version, priority=priority, schema=list(Schema)
    )
