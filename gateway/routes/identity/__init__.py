"""Identity routes: registry and staff (ops), app sign-in and recognition (apps), partner binding."""

from __future__ import annotations

from gateway.routes.identity import apps, ops, partner, staff

routers = [ops.public_router, ops.router, apps.public_router, apps.router, partner.router, staff.router]
