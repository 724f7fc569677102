"""Credentials for any documented route: the caller its path prefix names signs or authorises the request."""

from __future__ import annotations

import httpx

from tests.support.actors import operator_headers, partner_client, sign_in
from tools.core_banking_client import CoreBankingSigner

APP_ID = "mbank"


class RouteCredentials:
    """A signed-in customer of `APP_ID`, a head-office admin, the `ride` partner and the core system."""

    def __init__(self, gateway: httpx.Client, *, app_user_id: str, operator_id: str = "hq-admin") -> None:
        self.customer = sign_in(gateway, APP_ID, app_user_id)
        self.operator = operator_headers(gateway, operator_id)
        self.partner = partner_client(gateway, "ride")
        self.core = CoreBankingSigner()

    def apply(self, request: httpx.Request, body: bytes) -> None:
        """Add the credentials `request`'s path needs (partner and core requests signed over `body`)."""
        path = request.url.path
        if path.startswith("/v1/partner/"):
            request.headers.update(
                self.partner.signer.headers(method=request.method, url=str(request.url), body=body)
            )
        elif path.startswith("/v1/core/"):
            request.headers.update(
                self.core.headers(method=request.method, path=request.url.raw_path.decode(), body=body)
            )
        elif path.startswith("/v1/ops/"):
            request.headers.update(self.operator)
        elif path.startswith("/v1/apps/"):
            request.headers.update(self.customer.headers)
