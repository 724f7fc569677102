"""Who acts on benefits objects: every object records the principal that created it; each action checks it."""

from __future__ import annotations

from dataclasses import dataclass

from services.benefits.rules import BANK_CHANNELS, Context
from services.runtime.errors import InvalidInput, NotFound

KINDS = ("customer", "partner", "operator", "service")


@dataclass(frozen=True)
class Principal:
    """A customer in one app, a partner, an operator (branch "" = head office) or a bank service."""

    kind: str
    scope_id: str = ""
    actor_id: str = ""

    @property
    def head_office(self) -> bool:
        return self.kind == "operator" and not self.scope_id

    def sees_branch(self, branch: str | None) -> bool:
        """Head office sees every benefit; a branch operator only its own branch's."""
        return self.kind == "operator" and (self.head_office or (branch or "") == self.scope_id)


def require_principal(principal: Principal) -> None:
    if principal.kind not in KINDS or len(principal.scope_id) > 40 or len(principal.actor_id) > 64:
        raise InvalidInput("invalid_principal", "the caller's kind and scope are required")
    if principal.kind in ("customer", "partner", "service") and not principal.scope_id:
        raise InvalidInput("invalid_principal", f"a {principal.kind} principal needs its scope")
    if principal.kind in ("operator", "service") and not principal.actor_id:
        raise InvalidInput("invalid_principal", f"a {principal.kind} principal needs its actor id")


def require_operator(principal: Principal) -> Principal:
    """Catalogue and ledger operations are operators' (the gateway checks the role)."""
    require_principal(principal)
    if principal.kind != "operator":
        raise NotFound("benefit_not_found", "the catalogue is for operators")
    return principal


def require_acting_here(principal: Principal, context: Context) -> None:
    """A customer uses benefits in the app they signed in to; a partner only in its own scenes."""
    require_principal(principal)
    if principal.kind == "customer" and (context.partner_id or context.app_id != principal.scope_id):
        raise InvalidInput("context_mismatch", "a customer acts in the app they signed in to")
    if principal.kind == "partner" and context.partner_id != principal.scope_id:
        raise InvalidInput("context_mismatch", "a partner acts in its own scenes")
    if principal.kind not in ("customer", "partner"):
        raise InvalidInput("invalid_principal", "benefits are used by customers in apps or by partners")


def require_grant_channel(principal: Principal, channel: str) -> None:
    """Bank channels (reach strategies, operators) skip claim rules, so only the bank may use them."""
    require_principal(principal)
    bank = channel.startswith(BANK_CHANNELS)
    if bank != (principal.kind in ("service", "operator")):
        raise InvalidInput("invalid_channel", f"a {principal.kind} cannot grant through {channel}")


def owns(principal: Principal, *, kind: str, scope_id: str) -> bool:
    """True when the principal is of the kind and scope that created the object."""
    return bool(kind) and principal.kind == kind and principal.scope_id == scope_id
