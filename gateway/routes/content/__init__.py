"""Content routes: slots served to signed-in customers (apps) and the content desk of operators (ops:
items; placements: slots and placements)."""

from __future__ import annotations

from gateway.routes.content import apps, ops, placements, preview

routers = [apps.router, ops.items_router, placements.router, preview.router]
