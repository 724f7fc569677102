"""Core banking routes: the bank's own server-to-server feeds (signed by the core system)."""

from __future__ import annotations

from gateway.routes.core import milestones

routers = [milestones.router]
