"""Reach routes: events and the inbox (apps); strategies, policy, reviews (operators); provider receipts."""

from __future__ import annotations

from gateway.routes.reach import apps, ops, receipts

routers = [apps.router, ops.router, receipts.router]
