"""Conversion routes: partner links and reports, operators' campaigns and funnels, `/r/{code}`."""

from __future__ import annotations

from gateway.routes.conversion import (
    campaign_funnel,
    goals,
    north_star,
    ops,
    ops_links,
    partner,
    redirect,
)

routers = [
    partner.router,
    ops.router,
    ops_links.router,
    campaign_funnel.router,
    redirect.router,
    north_star.router,
    goals.router,
]
