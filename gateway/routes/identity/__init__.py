"""Identity routes: the app and partner registry (registry), signing keys and the JWKS (signing_keys),
the operator token and staff (ops, staff), app sign-in and recognition (apps), partner binding,
OpenID Provider metadata (discovery)."""

from __future__ import annotations

from gateway.routes.identity import apps, discovery, ops, partner, registry, signing_keys, staff

routers = [
    discovery.router,
    signing_keys.public_router,
    ops.public_router,
    ops.router,
    registry.router,
    signing_keys.router,
    apps.public_router,
    apps.router,
    partner.router,
    staff.router,
]
