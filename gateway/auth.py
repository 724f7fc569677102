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

from gateway.problems import Problem

ROLES = ("viewer", "operator", "reviewer", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}


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
        return self.role in _RANK and _RANK[self.role] >= _RANK[role]

    def can_manage_branch(self, branch: str | None) -> bool:
        """Head office manages everything; a branch operator only objects of its own branch."""
        return self.head_office or (branch is not None and branch == self.branch)


async def current_customer(request: Request) -> CustomerPrincipal:
    verifier = request.app.state.edge.app_tokens
    return await verifier.authenticate(request)


async def current_partner(request: Request) -> PartnerPrincipal:
    verifier = request.app.state.edge.partner_signatures
    return await verifier.authenticate(request)


async def current_operator(request: Request) -> OperatorPrincipal:
    verifier = request.app.state.edge.operator_tokens
    return await verifier.authenticate(request)


CustomerDep = Annotated[CustomerPrincipal, Depends(current_customer)]
PartnerDep = Annotated[PartnerPrincipal, Depends(current_partner)]
OperatorDep = Annotated[OperatorPrincipal, Depends(current_operator)]


def require_role(role: str):  # type: ignore[no-untyped-def]
    """Dependency factory: an operator with at least `role`."""

    async def dependency(operator: OperatorDep) -> OperatorPrincipal:
        if not operator.has_role(role):
            raise Problem(403, "role_required", f"this action needs the {role} role")
        return operator

    return Depends(dependency)
