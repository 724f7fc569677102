"""Identity routes: registry and staff (ops), app sign-in and recognition (apps), partner binding,
OpenID Provider metadata (discovery)."""

from __future__ import annotations

from gateway.routes.identity import apps, discovery, ops, partner, staff

routers = [
    discovery.router,
    ops.public_router,
    ops.router,
    apps.public_router,
    apps.router,
    partner.router,
    staff.router,
]
