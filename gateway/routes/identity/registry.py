"""Identity routes for head office: the registry of sibling apps (role, legal entity, editions), partners."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.paging import Page, PageSize, PageToken
from gateway.routes.identity.ops import registry_actor, require_head_office
from gateway.routes.identity.schemas import Slug, Strict, b64
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1", tags=["identity"])
ADMIN = require_role("admin")
VIEWER = require_role("viewer")
Edition = Literal["standard", "elderly", "student", "rural", "private_banking", "inclusive"]
AppRole = Literal["core", "main", "vertical"]


class AppCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "app_id": "lifeplus",
                    "name": "Life+",
                    "role": "vertical",
                    "legal_entity": "Bank Life Services Co.",
                    "editions": ["standard", "elderly"],
                }
            ]
        }
    )
    app_id: Slug
    name: str = Field(min_length=1, max_length=100)
    role: AppRole
    legal_entity: str = Field(min_length=1, max_length=100)
    editions: list[Edition] = Field(default_factory=lambda: list[Edition](["standard"]), max_length=6)


class AppPublic(BaseModel):
    app_id: str
    name: str
    role: AppRole | None = Field(description="null only where the registry holds no role")
    legal_entity: str
    editions: list[str]


class PartnerCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "ride",
                    "name": "Ride Hailing Co.",
                    "sector": "mobility",
                    "allowed_scopes": ["binding", "benefits:redeem", "links"],
                    "postback_url": "https://partner.example/lattice/postbacks",
                }
            ]
        }
    )
    partner_id: Slug
    name: str = Field(min_length=1, max_length=100)
    sector: str = Field(min_length=1, max_length=40)
    allowed_scopes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    # kept as written: identity checks it with the one SSRF guard (services/runtime/ssrf.py)
    postback_url: str | None = Field(default=None, min_length=1, max_length=500)


class PartnerPublic(BaseModel):
    partner_id: str
    name: str
    sector: str
    allowed_scopes: list[str]
    postback_url: str


class PartnerCreated(PartnerPublic):
    signing_key_id: str
    signing_secret: str = Field(description="base64 HMAC secret for request signing; shown only once")


class AppPage(Page[AppPublic]):
    """One page of the app registry, by app id."""


class PartnerPage(Page[PartnerPublic]):
    """One page of the partner registry, by partner id."""


@router.post(
    "/ops/apps",
    operation_id="register_app",
    summary="Register a sibling app",
    status_code=status.HTTP_201_CREATED,
    response_model=AppPublic,
)
async def register_app(
    body: AppCreate, clients: ClientsDep, operator: OperatorPrincipal = ADMIN
) -> AppPublic:
    """Add a sibling app to the matrix (head-office admins)."""
    require_head_office(operator)
    resp = await clients.identity.RegisterApp(
        pb.RegisterAppRequest(app=to_proto(pb.App, body), actor=registry_actor(operator))
    )
    return from_proto(AppPublic, resp.app)


@router.get("/ops/apps", operation_id="list_apps", summary="List the sibling apps", response_model=AppPage)
async def list_apps(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> AppPage:
    """The apps of the matrix by id, with their role, legal entity and editions."""
    resp = await clients.identity.ListApps(pb.ListAppsRequest(page_size=page_size, page_token=page_token))
    return AppPage.of([from_proto(AppPublic, a) for a in resp.apps], resp.next_page_token)


@router.post(
    "/ops/partners",
    operation_id="register_partner",
    summary="Register a partner platform",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerCreated,
)
async def register_partner(
    body: PartnerCreate,
    clients: ClientsDep,
    idempotency_key: IdempotencyKeyDep = None,
    operator: OperatorPrincipal = ADMIN,
) -> PartnerCreated:
    """Register a partner platform (head-office admins)."""
    require_head_office(operator)
    resp = await clients.identity.RegisterPartner(
        pb.RegisterPartnerRequest(partner=to_proto(pb.Partner, body), actor=registry_actor(operator))
    )
    # the created partner with its first signing key, which the contract answers beside it; the
    # secret's bytes travel as base64 text (JSON has no bytes)
    key_id, secret = resp.signing_key_id, b64(resp.signing_secret)
    return from_proto(PartnerCreated, resp.partner, signing_key_id=key_id, signing_secret=secret)


@router.get(
    "/ops/partners",
    operation_id="list_partners",
    summary="List partner platforms",
    response_model=PartnerPage,
)
async def list_partners(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    page_size: PageSize = 50,
    page_token: Annotated[str, Query(max_length=40)] = "",
) -> PartnerPage:
    """The registered partner platforms with their scopes and key state."""
    resp = await clients.identity.ListPartners(
        pb.ListPartnersRequest(page_size=page_size, page_token=page_token)
    )
    return PartnerPage.of([from_proto(PartnerPublic, p) for p in resp.partners], resp.next_page_token)


@router.get(
    "/ops/partners/{partner_id}",
    operation_id="get_partner",
    summary="Get a partner platform",
    response_model=PartnerPublic,
)
async def get_partner(
    partner_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = VIEWER
) -> PartnerPublic:
    """One registered partner platform; 404 when there is no partner with this id."""
    resp = await clients.identity.GetPartner(pb.GetPartnerRequest(partner_id=partner_id))
    return from_proto(PartnerPublic, resp.partner)
