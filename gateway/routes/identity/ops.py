"""Identity routes: the registry of apps and partners (operators)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.problems import Problem
from lattice.identity.v1 import identity_pb2 as pb

router = APIRouter(prefix="/v1", tags=["identity"])

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
Edition = Literal["standard", "elderly", "student", "rural", "private_banking", "inclusive"]
_ROLE_NAMES = {pb.APP_ROLE_CORE: "core", pb.APP_ROLE_MAIN: "main", pb.APP_ROLE_VERTICAL: "vertical"}
_ROLE_VALUES = {v: k for k, v in _ROLE_NAMES.items()}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppCreate(Strict):
    app_id: Slug
    name: str = Field(min_length=1, max_length=100)
    role: Literal["core", "main", "vertical"]
    legal_entity: str = Field(min_length=1, max_length=100)
    editions: list[Edition] = Field(default_factory=lambda: ["standard"], max_length=6)


class AppPublic(BaseModel):
    app_id: str
    name: str
    role: str
    legal_entity: str
    editions: list[str]


class PartnerCreate(Strict):
    partner_id: Slug
    name: str = Field(min_length=1, max_length=100)
    sector: str = Field(min_length=1, max_length=40)
    allowed_scopes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    postback_url: HttpUrl | None = None


class PartnerPublic(BaseModel):
    partner_id: str
    name: str
    sector: str
    allowed_scopes: list[str]
    postback_url: str


class PartnerPage(BaseModel):
    items: list[PartnerPublic]
    next_page_token: str | None


def _app_public(app: pb.App) -> AppPublic:
    return AppPublic(
        app_id=app.app_id,
        name=app.name,
        role=_ROLE_NAMES.get(app.role, "unspecified"),
        legal_entity=app.legal_entity,
        editions=list(app.editions),
    )


def _partner_public(p: pb.Partner) -> PartnerPublic:
    return PartnerPublic(
        partner_id=p.partner_id,
        name=p.name,
        sector=p.sector,
        allowed_scopes=list(p.allowed_scopes),
        postback_url=p.postback_url,
    )


def _head_office(operator: OperatorPrincipal) -> None:
    if not operator.head_office:
        raise Problem(403, "head_office_only", "the app and partner registry is managed by head office")


@router.post("/ops/apps", status_code=status.HTTP_201_CREATED, response_model=AppPublic)
async def register_app(
    body: AppCreate, clients: ClientsDep, operator: OperatorPrincipal = require_role("admin")
) -> AppPublic:
    """Add a sibling app to the matrix (head-office admins)."""
    _head_office(operator)
    resp = await clients.identity.RegisterApp(
        pb.RegisterAppRequest(
            app=pb.App(
                app_id=body.app_id,
                name=body.name,
                role=_ROLE_VALUES[body.role],
                legal_entity=body.legal_entity,
                editions=list(body.editions),
            )
        )
    )
    return _app_public(resp.app)


@router.get("/ops/apps", response_model=list[AppPublic])
async def list_apps(
    clients: ClientsDep, operator: OperatorPrincipal = require_role("viewer")
) -> list[AppPublic]:
    resp = await clients.identity.ListApps(pb.ListAppsRequest())
    return [_app_public(a) for a in resp.apps]


@router.post("/ops/partners", status_code=status.HTTP_201_CREATED, response_model=PartnerPublic)
async def register_partner(
    body: PartnerCreate, clients: ClientsDep, operator: OperatorPrincipal = require_role("admin")
) -> PartnerPublic:
    """Register a partner platform (head-office admins)."""
    _head_office(operator)
    resp = await clients.identity.RegisterPartner(
        pb.RegisterPartnerRequest(
            partner=pb.Partner(
                partner_id=body.partner_id,
                name=body.name,
                sector=body.sector,
                allowed_scopes=body.allowed_scopes,
                postback_url=str(body.postback_url) if body.postback_url else "",
            )
        )
    )
    return _partner_public(resp.partner)


@router.get("/ops/partners", response_model=PartnerPage)
async def list_partners(
    clients: ClientsDep,
    operator: OperatorPrincipal = require_role("viewer"),
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, Query(max_length=40)] = "",
) -> PartnerPage:
    resp = await clients.identity.ListPartners(
        pb.ListPartnersRequest(page_size=page_size, page_token=page_token)
    )
    return PartnerPage(
        items=[_partner_public(p) for p in resp.partners], next_page_token=resp.next_page_token or None
    )


@router.get("/ops/partners/{partner_id}", response_model=PartnerPublic)
async def get_partner(
    partner_id: Slug, clients: ClientsDep, operator: OperatorPrincipal = require_role("viewer")
) -> PartnerPublic:
    resp = await clients.identity.GetPartner(pb.GetPartnerRequest(partner_id=partner_id))
    return _partner_public(resp.partner)
