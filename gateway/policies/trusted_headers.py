"""The identity headers Kong's plugins set for the gateway, proven by a shared secret header.

Plugins clear every `X-Lattice-Auth-*` header a caller sent before setting their own; the gateway
strips them when it runs the policies itself, and behind Kong reads them only with the right secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from gateway.policies.denial import PolicyDenied, unauthenticated
from gateway.policies.operator_scope import ROLES
from gateway.policies.partner_signature import VerifiedPartner
from gateway.policies.tokens import CustomerClaims, OperatorClaims

PREFIX = "x-lattice-auth-"
SECRET = PREFIX + "secret"
KIND = PREFIX + "kind"
CUSTOMER = PREFIX + "customer"
APP = PREFIX + "app"
ASSURANCE = PREFIX + "assurance"
SCOPES = PREFIX + "scopes"
TOKEN_ID = PREFIX + "token-id"
PARTNER = PREFIX + "partner"
KEY_ID = PREFIX + "key-id"
OPERATOR = PREFIX + "operator"
ROLE = PREFIX + "role"
BRANCH = PREFIX + "branch"
ALL = (SECRET, KIND, CUSTOMER, APP, ASSURANCE, SCOPES, TOKEN_ID, PARTNER, KEY_ID, OPERATOR, ROLE, BRANCH)


def customer_headers(claims: CustomerClaims, *, secret: str) -> dict[str, str]:
    return {
        SECRET: secret,
        KIND: "customer",
        CUSTOMER: claims.customer_id,
        APP: claims.app_id,
        ASSURANCE: str(claims.assurance_level),
        SCOPES: " ".join(sorted(claims.scopes)),
        TOKEN_ID: claims.token_id,
    }


def partner_headers(partner: VerifiedPartner, *, secret: str) -> dict[str, str]:
    return {SECRET: secret, KIND: "partner", PARTNER: partner.partner_id, KEY_ID: partner.key_id}


def operator_headers(claims: OperatorClaims, *, secret: str) -> dict[str, str]:
    headers = {SECRET: secret, KIND: "operator", OPERATOR: claims.operator_id, ROLE: claims.role}
    if claims.branch is not None:
        headers[BRANCH] = claims.branch
    return headers


def _trusted(headers: Mapping[str, str], *, secret: str, kind: str) -> None:
    presented = headers.get(SECRET, "")
    if not secret or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise unauthenticated("edge_untrusted", "the request did not pass through the bank's edge")
    if headers.get(KIND) != kind:
        raise unauthenticated("unauthenticated", f"{kind} authentication is required")


def read_customer(headers: Mapping[str, str], *, secret: str, app_id: str) -> CustomerClaims:
    """The customer Kong's app-token plugin verified, for the app in the path."""
    _trusted(headers, secret=secret, kind="customer")
    if headers.get(APP) != app_id or not headers.get(CUSTOMER):
        raise unauthenticated("token_audience", "the token was not issued for this app")
    assurance = headers.get(ASSURANCE, "1")
    return CustomerClaims(
        customer_id=headers[CUSTOMER],
        app_id=app_id,
        assurance_level=int(assurance) if assurance.isdigit() else 1,
        scopes=frozenset(headers.get(SCOPES, "").split()),
        token_id=headers.get(TOKEN_ID, ""),
    )


def read_partner(headers: Mapping[str, str], *, secret: str) -> VerifiedPartner:
    _trusted(headers, secret=secret, kind="partner")
    if not headers.get(PARTNER):
        raise unauthenticated("unauthenticated", "partner authentication is required")
    return VerifiedPartner(partner_id=headers[PARTNER], key_id=headers.get(KEY_ID, ""))


def read_operator(headers: Mapping[str, str], *, secret: str) -> OperatorClaims:
    _trusted(headers, secret=secret, kind="operator")
    role = headers.get(ROLE, "")
    if not headers.get(OPERATOR) or role not in ROLES:
        raise PolicyDenied(403, "operator_token_required", "operator routes need an operator token")
    return OperatorClaims(operator_id=headers[OPERATOR], role=role, branch=headers.get(BRANCH) or None)
