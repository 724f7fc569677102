"""Conversion routes: partner links and reports, operators' campaigns and funnels, `/r/{code}`."""

from __future__ import annotations

from gateway.routes.conversion import ops, partner, redirect

routers = [partner.router, ops.router, redirect.router]
