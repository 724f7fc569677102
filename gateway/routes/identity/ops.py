"""Identity routes for operations staff: the registry of apps, partners, operators and keys; staff tokens."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.problems import Problem
from gateway.routes.identity import oauth
from gateway.routes.identity.schemas import Slug, Strict, b64, when

router = APIRouter(prefix="/v1", tags=["identity"])
public_router = APIRouter(prefix="/v1", tags=["identity"])
ADMIN = require_role("admin")
VIEWER = require_role("viewer")
Edition = Literal["standard", "elderly", "student", "rural", "private_banking", "inclusive"]
_ROLE_NAMES = {pb.APP_ROLE_CORE: "core", pb.APP_ROLE_MAIN: "main", pb.APP_ROLE_VERTICAL: "vertical"}
_ROLE_VALUES = {v: k for k, v in _ROLE_NAMES.items()}


class OperatorTokenRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grant_type": "client_credentials",
                    "client_id": "hq-admin",
                    "client_secret": "the-secret-shown-once-at-registration",
                }
            ]
        }
    )
    grant_type: Literal["client_credentials"]
    client_id: Slug
    client_secret: str = Field(min_length=1, max_length=200)


_SLUG = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
OPERATOR_TOKEN_BODY = oauth.request_body(
    {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"type": "string", "enum": [oauth.CLIENT_CREDENTIALS]},
            "client_id": {"type": "string", "description": "the operator id, unless sent with HTTP Basic"},
            "client_secret": {"type": "string", "description": "unless sent with HTTP Basic"},
        },
    },
    OperatorTokenRequest,
    {
        "client_secret_basic": {
            "summary": "credentials in Authorization: Basic base64(client_id:client_secret)",
            "value": {"grant_type": "client_credentials"},
        },
        "client_secret_post": {
            "summary": "credentials in the body",
            "value": {
                "grant_type": "client_credentials",
                "client_id": "hq-admin",
                "client_secret": "the-secret-shown-once-at-registration",
            },
        },
    },
)


class OperatorTokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    role: str
    branch: str | None


class OperatorCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"operator_id": "sz-reviewer", "role": "reviewer", "branch": "sz01"}]}
    )
    operator_id: Slug
    role: Literal["viewer", "operator", "reviewer", "admin"]
    branch: Slug | None = Field(default=None, description="absent for head office")


class OperatorCreated(BaseModel):
    operator_id: str
    role: str
    branch: str | None
    client_secret: str = Field(description="shown only once")


class KeyRotation(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap_seconds": 3600}]})
    overlap_seconds: int = Field(default=900, ge=0, le=7 * 24 * 3600)


class SigningKeyRotated(BaseModel):
    kid: str
    previous_kid: str | None
    previous_not_after: datetime | None


class PartnerKeyRotated(BaseModel):
    partner_id: str
    key_id: str
    secret: str = Field(description="base64 HMAC secret; shown only once")
    previous_key_not_after: datetime | None


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
    role: Literal["core", "main", "vertical"]
    legal_entity: str = Field(min_length=1, max_length=100)
    editions: list[Edition] = Field(default_factory=lambda: list[Edition](["standard"]), max_length=6)


class AppPublic(BaseModel):
    app_id: str
    name: str
    role: str
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


def _actor(operator: OperatorPrincipal) -> pb.OperatorActor:
    """Who makes a registry change: identity keeps it in its audit trail."""
    return pb.OperatorActor(
        operator_id=operator.operator_id, role=operator.role, branch=operator.branch or ""
    )


def _head_office(operator: OperatorPrincipal) -> None:
    if not operator.head_office:
        raise Problem(403, "head_office_only", "the app and partner registry is managed by head office")


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
    _head_office(operator)
    resp = await clients.identity.RegisterApp(
        pb.RegisterAppRequest(
            app=pb.App(
                app_id=body.app_id,
                name=body.name,
                role=_ROLE_VALUES[body.role],
                legal_entity=body.legal_entity,
                editions=list(body.editions),
            ),
            actor=_actor(operator),
        )
    )
    return _app_public(resp.app)


@router.get(
    "/ops/apps", operation_id="list_apps", summary="List the sibling apps", response_model=list[AppPublic]
)
async def list_apps(clients: ClientsDep, operator: OperatorPrincipal = VIEWER) -> list[AppPublic]:
    """Every app of the matrix with its role, legal entity and editions."""
    resp = await clients.identity.ListApps(pb.ListAppsRequest())
    return [_app_public(a) for a in resp.apps]


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
    _head_office(operator)
    resp = await clients.identity.RegisterPartner(
        pb.RegisterPartnerRequest(
            partner=pb.Partner(
                partner_id=body.partner_id,
                name=body.name,
                sector=body.sector,
                allowed_scopes=body.allowed_scopes,
                postback_url=body.postback_url or "",
            ),
            actor=_actor(operator),
        )
    )
    return PartnerCreated(
        **_partner_public(resp.partner).model_dump(),
        signing_key_id=resp.signing_key_id,
        signing_secret=b64(resp.signing_secret),
    )


@router.get(
    "/ops/partners",
    operation_id="list_partners",
    summary="List partner platforms",
    response_model=PartnerPage,
)
async def list_partners(
    clients: ClientsDep,
    operator: OperatorPrincipal = VIEWER,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    page_token: Annotated[str, Query(max_length=40)] = "",
) -> PartnerPage:
    """The registered partner platforms with their scopes and key state."""
    resp = await clients.identity.ListPartners(
        pb.ListPartnersRequest(page_size=page_size, page_token=page_token)
    )
    return PartnerPage(
        items=[_partner_public(p) for p in resp.partners], next_page_token=resp.next_page_token or None
    )


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
    return _partner_public(resp.partner)


@public_router.get(
    "/.well-known/jwks.json",
    operation_id="get_token_keys",
    summary="Public keys that verify identity-issued tokens",
)
async def jwks(clients: ClientsDep) -> JSONResponse:
    """The JSON Web Key Set of the token signing keys in use and in their overlap; relying parties
    (Kong, sibling app backends) cache it.
    """
    resp = await clients.identity.GetJwks(pb.GetJwksRequest())
    return JSONResponse(json.loads(resp.jwks_json), headers={"Cache-Control": "public, max-age=60"})


@public_router.post(
    "/ops/token",
    operation_id="issue_operator_token",
    summary="Get an operator token (client credentials)",
    response_model=OperatorTokenOut,
    openapi_extra=OPERATOR_TOKEN_BODY,
    responses=oauth.ERROR_RESPONSES,
)
async def operator_token(request: Request, clients: ClientsDep) -> JSONResponse:
    """Operator token for client credentials (aud lattice-ops, role, branch; 15 minutes).

    The OAuth 2.0 client credentials grant: form-encoded with HTTP Basic or `client_id` /
    `client_secret` in the body, OAuth error bodies; or Lattice's JSON body, RFC 9457 problems."""

    async def issue(client_id: str, client_secret: str) -> dict[str, object]:
        resp = await request.app.state.edge.authenticating(
            lambda: clients.identity.IssueOperatorToken(
                pb.IssueOperatorTokenRequest(operator_id=client_id, client_secret=client_secret)
            ),
            kind="operator",
            client_id=client_id,
        )
        out = OperatorTokenOut(
            access_token=resp.access_token,
            expires_in=resp.expires_in,
            role=resp.role,
            branch=resp.branch or None,
        )
        return out.model_dump(mode="json")

    async def from_form(params: oauth.TokenParams) -> dict[str, object]:
        if params.require("grant_type") != oauth.CLIENT_CREDENTIALS:
            raise oauth.OAuthError("unsupported_grant_type", "operators use the client_credentials grant")
        client_id, client_secret = params.client_credentials()
        if not _SLUG.fullmatch(client_id) or len(client_secret) > 200:
            raise oauth.OAuthError("invalid_client", "unknown operator or wrong secret")
        return await issue(client_id, client_secret)

    async def from_json(raw: bytes) -> dict[str, object]:
        body = oauth.json_body(raw, OperatorTokenRequest)
        return await issue(body.client_id, body.client_secret)

    return await oauth.token_endpoint(request, form=from_form, json_request=from_json)


@router.post(
    "/ops/operators",
    operation_id="register_operator",
    summary="Add a member of operations staff",
    status_code=status.HTTP_201_CREATED,
    response_model=OperatorCreated,
)
async def register_operator(
    body: OperatorCreate,
    clients: ClientsDep,
    idempotency_key: IdempotencyKeyDep = None,
    operator: OperatorPrincipal = ADMIN,
) -> OperatorCreated:
    """Add a member of staff (head-office admins); the client secret is shown once."""
    _head_office(operator)
    resp = await clients.identity.RegisterOperator(
        pb.RegisterOperatorRequest(
            operator_id=body.operator_id, role=body.role, branch=body.branch or "", actor=_actor(operator)
        )
    )
    return OperatorCreated(
        operator_id=resp.operator_id,
        role=resp.role,
        branch=resp.branch or None,
        client_secret=resp.client_secret,
    )


@router.post(
    "/ops/partners/{partner_id}/signing-keys",
    operation_id="rotate_partner_key",
    summary="Rotate a partner's signing key",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerKeyRotated,
)
async def rotate_partner_key(
    partner_id: Slug,
    body: KeyRotation,
    clients: ClientsDep,
    operator: OperatorPrincipal = ADMIN,
) -> PartnerKeyRotated:
    """A new request-signing secret for a partner; the previous one stays valid for the overlap."""
    _head_office(operator)
    resp = await clients.identity.RotatePartnerSigningKey(
        pb.RotatePartnerSigningKeyRequest(
            partner_id=partner_id, overlap_seconds=body.overlap_seconds, actor=_actor(operator)
        )
    )
    return PartnerKeyRotated(
        partner_id=resp.partner_id,
        key_id=resp.key_id,
        secret=b64(resp.secret),
        previous_key_not_after=when(resp.previous_key_not_after),
    )


@router.post(
    "/ops/identity/signing-keys/rotate",
    operation_id="rotate_token_signing_key",
    summary="Rotate the token signing key",
    response_model=SigningKeyRotated,
)
async def rotate_signing_key(
    body: KeyRotation, clients: ClientsDep, operator: OperatorPrincipal = ADMIN
) -> SigningKeyRotated:
    """Sign tokens with a new key; the previous key stays in the JWKS for the overlap."""
    _head_office(operator)
    resp = await clients.identity.RotateSigningKey(
        pb.RotateSigningKeyRequest(overlap_seconds=body.overlap_seconds, actor=_actor(operator))
    )
    return SigningKeyRotated(
        kid=resp.kid, previous_kid=resp.previous_kid or None, previous_not_after=when(resp.previous_not_after)
    )
