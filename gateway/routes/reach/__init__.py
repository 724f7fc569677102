"""Reach routes: behaviour events and the inbox (apps); strategies, policy and reviews (operators)."""

from __future__ import annotations

from gateway.routes.reach import apps, ops

routers = [apps.router, ops.router]
