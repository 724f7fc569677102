"""Identity routes for operations staff: the operator token (client credentials) and registering staff;
the head-office rule and the actor every registry change records (registry.py, signing_keys.py)."""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.problems import Problem
from gateway.routes.identity import oauth
from gateway.routes.identity.schemas import Slug, Strict
from services.runtime.proto_mapping import from_proto, to_proto

router = APIRouter(prefix="/v1", tags=["identity"])
public_router = APIRouter(prefix="/v1", tags=["identity"])
ADMIN = require_role("admin")


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


class OperatorTokenPublic(BaseModel):
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


def registry_actor(operator: OperatorPrincipal) -> pb.OperatorActor:
    """Who makes a registry change: identity keeps it in its audit trail."""
    return to_proto(pb.OperatorActor, operator)  # its id, role and branch ("" for head office)


def require_head_office(operator: OperatorPrincipal) -> None:
    if not operator.head_office:
        raise Problem(403, "head_office_only", "the app and partner registry is managed by head office")


@public_router.post(
    "/ops/token",
    operation_id="issue_operator_token",
    summary="Get an operator token (client credentials)",
    response_model=OperatorTokenPublic,
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
        return from_proto(OperatorTokenPublic, resp).model_dump(mode="json")

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
    require_head_office(operator)
    resp = await clients.identity.RegisterOperator(
        to_proto(pb.RegisterOperatorRequest, body, actor=registry_actor(operator))
    )
    return from_proto(OperatorCreated, resp)
