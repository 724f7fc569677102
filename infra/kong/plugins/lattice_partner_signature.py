#!/usr/bin/env python3
"""Kong plugin lattice-partner-signature: verifies signed partner requests (gateway/policies)."""

from __future__ import annotations

from typing import Any

import lattice_kong

from gateway.policies import trusted_headers
from gateway.policies.lockout import AuthLockout
from gateway.policies.partner_signature import PartnerSignaturePolicy

version = "1.0.0"
priority = 1010
Schema = (
    *lattice_kong.COMMON_SCHEMA,
    {"store_path": {"type": "string", "required": False, "default": lattice_kong.DEFAULT_STORE_PATH}},
    {"window_s": {"type": "integer", "required": True, "default": 300, "between": [30, 900]}},
    {"nonce_ttl_s": {"type": "integer", "required": True, "default": 600, "between": [60, 3600]}},
    # signature_invalid shows the canonical request; unset: on unless ENVIRONMENT=production
    {"explain_signature_failures": {"type": "boolean", "required": False}},
)


class Plugin:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def _policy(self) -> PartnerSignaturePolicy:
        return lattice_kong.shared(
            "partner-signature",
            self.config,
            lambda: PartnerSignaturePolicy(
                keys=lattice_kong.identity_keys(self.config),
                store=lattice_kong.edge_store(self.config),
                window_s=self.config.get("window_s", 300),
                nonce_ttl_s=self.config.get("nonce_ttl_s", 600),
                lockout=AuthLockout(store=lattice_kong.edge_store(self.config)),
                explain_failures=lattice_kong.signature_help(self.config),
            ),
        )

    def access(self, kong: Any) -> None:
        def handle() -> None:
            headers = lattice_kong.request_headers(kong)
            secret = lattice_kong.edge_secret(self.config)
            partner = self._policy().authenticate(lattice_kong.edge_request(kong, headers, with_body=True))
            lattice_kong.pass_identity(kong, headers, trusted_headers.partner_headers(partner, secret=secret))

        lattice_kong.guarded(kong, handle)


if __name__ == "__main__":
    lattice_kong.serve(
        "lattice-partner-signature", Plugin, version=version, priority=priority, schema=list(Schema)
    )
