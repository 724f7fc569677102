"""Content routes: slots served to signed-in customers (apps) and the content desk of operators (ops)."""

from __future__ import annotations

from gateway.routes.content import apps, ops, preview

routers = [apps.router, ops.items_router, ops.slots_router, preview.router]
