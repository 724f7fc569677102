"""Demo data of identity: the app matrix, partners ride and food, operators and a few customers.

Every secret here is a demo value, accepted only outside production (the service refuses fixed
secrets when ENVIRONMENT=production).
"""

from __future__ import annotations

from typing import Any

import grpc
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity.app_client import app_assertion

DEMO_APPS = {
    "mbank": ("Lattice Mobile Banking", pb.APP_ROLE_CORE, "Lattice Bank", ["standard", "elderly", "rural"]),
    "life": ("Lattice Life", pb.APP_ROLE_MAIN, "Lattice Bank", ["standard", "student", "inclusive"]),
    "wealth": ("Lattice Wealth", pb.APP_ROLE_VERTICAL, "Lattice Wealth Management Co.", ["private_banking"]),
}
DEMO_APP_SECRETS = {app_id: f"{app_id}-demo-client-secret-0123456789abcdef" for app_id in DEMO_APPS}
DEMO_PARTNERS = {
    "ride": ("Ride Hailing Co.", "mobility", "ride-demo-k1", b"ride-demo-signing-secret-0123456789abcdef"),
    "food": (
        "Food Delivery Co.",
        "food_delivery",
        "food-demo-k1",
        b"food-demo-signing-secret-0123456789abcdef",
    ),
}
PARTNER_SCOPES = ["benefits", "conversion", "profile"]
DEMO_OPERATORS = {
    "hq-admin": ("admin", ""),
    "hq-reviewer": ("reviewer", ""),
    "hq-operator": ("operator", ""),
    "hq-viewer": ("viewer", ""),
    "sh-operator": ("operator", "shanghai"),
    "bj-operator": ("operator", "beijing"),
}
DEMO_OPERATOR_SECRETS = {op: f"{op}-demo-secret-0123456789" for op in DEMO_OPERATORS}
# app id, app user id, assurance level, asserted attributes (the phone numbers are fictitious)
DEMO_CUSTOMERS: list[tuple[str, str, int, dict[str, Any]]] = [
    ("mbank", "m-1001", 2, {"phone_number": "13800138001", "branch": "shanghai", "editions": ["standard"]}),
    ("mbank", "m-1002", 3, {"phone_number": "13900139002", "branch": "beijing", "editions": ["elderly"]}),
    ("life", "l-2001", 1, {"editions": ["student"]}),
]


async def _skip_existing(call) -> None:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise


async def load(channel: grpc.aio.Channel) -> None:
    """Register what is missing and sign the demo customers in once."""
    registry = identity_pb2_grpc.RegistryServiceStub(channel)
    customers = identity_pb2_grpc.CustomerServiceStub(channel)
    for app_id, (name, role, entity, editions) in DEMO_APPS.items():
        app = pb.App(app_id=app_id, name=name, role=role, legal_entity=entity, editions=editions)
        await _skip_existing(
            registry.RegisterApp(pb.RegisterAppRequest(app=app, client_secret=DEMO_APP_SECRETS[app_id]))
        )
    for partner_id, (name, sector, key_id, secret) in DEMO_PARTNERS.items():
        partner = pb.Partner(partner_id=partner_id, name=name, sector=sector, allowed_scopes=PARTNER_SCOPES)
        request = pb.RegisterPartnerRequest(partner=partner, signing_key_id=key_id, signing_secret=secret)
        await _skip_existing(registry.RegisterPartner(request))
    for operator_id, (operator_role, branch) in DEMO_OPERATORS.items():
        operator = pb.RegisterOperatorRequest(
            operator_id=operator_id,
            role=operator_role,
            branch=branch,
            client_secret=DEMO_OPERATOR_SECRETS[operator_id],
        )
        await _skip_existing(registry.RegisterOperator(operator))
    for app_id, app_user_id, level, claims in DEMO_CUSTOMERS:
        assertion = app_assertion(
            app_id=app_id,
            client_secret=DEMO_APP_SECRETS[app_id],
            app_user_id=app_user_id,
            assurance_level=level,
            **claims,
        )
        await customers.SignIn(pb.SignInRequest(app_id=app_id, assertion=assertion))
