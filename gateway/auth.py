"""Who is calling: the three kinds of caller and the FastAPI dependencies that authenticate them.

- sibling bank apps present identity-issued access tokens (JWT, audience = the app);
- partner platforms sign each request (see gateway/policies/partner_signature.py);
- operations staff present operator tokens carrying a role and a scope (head office or one branch).

Routes never take the customer id from the path or the body: they act on the authenticated
principal, so one customer can only ever reach their own data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from gateway.openapi_marks import documents
from gateway.policies import operator_scope
from gateway.policies.operator_scope import ROLES
from gateway.problems import Problem
from services.runtime.on_behalf import Principal, act_for

__all__ = [
    "ROLES",
    "CustomerDep",
    "CustomerPrincipal",
    "OperatorDep",
    "OperatorPrincipal",
    "PartnerDep",
    "PartnerPrincipal",
    "require_role",
]


@dataclass(frozen=True)
class CustomerPrincipal:
    """A customer signed in to one sibling app."""

    customer_id: str
    app_id: str
    assurance_level: int = 1
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str = ""


@dataclass(frozen=True)
class PartnerPrincipal:
    """A partner platform whose request signature verified."""

    partner_id: str
    key_id: str = ""


@dataclass(frozen=True)
class OperatorPrincipal:
    """A member of bank operations staff: a role, and head office (branch None) or one branch."""

    operator_id: str
    role: str
    branch: str | None = None

    @property
    def head_office(self) -> bool:
        return self.branch is None

    def has_role(self, role: str) -> bool:
        return operator_scope.role_at_least(self.role, role)

    def can_manage_branch(self, branch: str | None) -> bool:
        """Head office manages everything; a branch operator only objects of its own branch."""
        return operator_scope.can_manage_branch(operator_branch=self.branch, object_branch=branch)


APP_TOKEN = ("app_token",)
OPERATOR_TOKEN = (("operator_token",), ("operator_oauth2",))
PARTNER_SIGNATURE = (
    "partner_id",
    "partner_key_id",
    "partner_timestamp",
    "partner_nonce",
    "partner_signature",
)


@documents(401, 403, 429, security=[APP_TOKEN])
async def current_customer(request: Request) -> CustomerPrincipal:
    edge = request.app.state.edge
    customer = await edge.app_tokens.authenticate(request)
    await edge.admit(request, group="app", consumer=f"customer:{customer.app_id}:{customer.customer_id}")
    act_for(Principal("customer", customer.customer_id, app=customer.app_id))
    return customer


@documents(401, 403, 429, security=[PARTNER_SIGNATURE])
async def current_partner(request: Request) -> PartnerPrincipal:
    edge = request.app.state.edge
    partner = await edge.partner_signatures.authenticate(request)
    await edge.admit(request, group="partner", consumer=f"partner:{partner.partner_id}")
    act_for(Principal("partner", partner.partner_id))
    return partner


@documents(401, 403, 429, security=OPERATOR_TOKEN)
async def current_operator(request: Request) -> OperatorPrincipal:
    edge = request.app.state.edge
    operator = await edge.operator_tokens.authenticate(request)
    await edge.admit(request, group="ops", consumer=f"operator:{operator.operator_id}")
    act_for(Principal("operator", operator.operator_id, role=operator.role, branch=operator.branch or ""))
    return operator


CustomerDep = Annotated[CustomerPrincipal, Depends(current_customer)]
PartnerDep = Annotated[PartnerPrincipal, Depends(current_partner)]
OperatorDep = Annotated[OperatorPrincipal, Depends(current_operator)]


def require_role(role: str):
    """Dependency factory: an operator with at least `role`."""

    @documents(403)
    async def dependency(operator: OperatorDep) -> OperatorPrincipal:
        if not operator.has_role(role):
            raise Problem(403, "role_required", f"this action needs the {role} role")
        return operator

    return Depends(dependency)
