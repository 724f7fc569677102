"""The edge policies the gateway runs itself when no Kong stands in front of it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from gateway.auth import CustomerPrincipal, OperatorPrincipal, PartnerPrincipal
from gateway.clients import Clients
from gateway.config import GatewaySettings
from gateway.problems import Problem


class _NotConfigured:
    """Placeholder verifier until the policy for this kind of caller is wired (issue: gateway edge)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def authenticate(self, request: Request) -> CustomerPrincipal | PartnerPrincipal | OperatorPrincipal:
        raise Problem(401, "unauthenticated", f"{self.kind} authentication is required")


@dataclass
class Edge:
    app_tokens: _NotConfigured
    partner_signatures: _NotConfigured
    operator_tokens: _NotConfigured

    @classmethod
    async def start(cls, *, settings: GatewaySettings, clients: Clients) -> Edge:
        return cls(_NotConfigured("app token"), _NotConfigured("partner signature"), _NotConfigured("operator token"))

    async def close(self) -> None:
        return None
