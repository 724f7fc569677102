"""Benefits routes: the shared wallet for apps and partners, redemptions, and the catalogue for operators."""

from gateway.routes.benefits import apps, lifecycle, ops, partners, reports

routers = [apps.router, partners.router, ops.router, lifecycle.router, reports.router]
router = apps.router
