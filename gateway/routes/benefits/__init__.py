"""Benefits routes: the shared wallet for apps and partners, redemptions, and the catalogue for operators."""

from gateway.routes.benefits import apps, ops, partners

routers = [apps.router, partners.router, ops.router]
router = apps.router
