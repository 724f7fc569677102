"""The app token endpoint's grants: RFC 7523 jwt-bearer sign-in, refresh-token rotation and RFC 8693
token exchange (a ticket for a sibling app, or recognition of a customer a sibling sent with one).

`POST /v1/apps/{app_id}/token` (gateway/routes/identity/apps.py) answers with `token_endpoint`:
form-encoded requests are OAuth 2.0 token requests (oauth.py: OAuth error bodies), Lattice's JSON
body takes sign-in and refresh and answers RFC 9457 problems.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import ConfigDict

from gateway.clients import Clients
from gateway.problems import Problem
from gateway.routes.identity import oauth
from gateway.routes.identity.schemas import ClickId, Jwt, OpaqueToken, Strict, caller, token_public
from services.runtime.on_behalf import Principal, act_for

JWT_BEARER = oauth.JWT_BEARER
_CLICK_ID = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
_TICKET = re.compile(r"^[A-Za-z0-9_-]{16,200}$")
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
_SCOPE = re.compile(r"^[a-z][a-z0-9_:.-]{0,39}$")


class TokenRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJtYmFuayJ9.c2lnbmF0dXJl",
                }
            ]
        }
    )
    grant_type: Literal["urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]
    assertion: Jwt | None = None
    refresh_token: OpaqueToken | None = None
    click_id: ClickId = ""


APP_TOKEN_BODY = oauth.request_body(
    {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {
                "type": "string",
                "enum": [oauth.JWT_BEARER, oauth.REFRESH_TOKEN, oauth.TOKEN_EXCHANGE],
            },
            "assertion": {"type": "string", "description": "jwt-bearer: the app backend's sign-in assertion"},
            "refresh_token": {"type": "string"},
            "subject_token": {
                "type": "string",
                "description": "token-exchange: a recognition ticket (to be recognised here), or a customer "
                "access token of this app (to get a ticket for the sibling app named by audience)",
            },
            "subject_token_type": {
                "type": "string",
                "enum": [oauth.RECOGNITION_TICKET_TYPE, oauth.ACCESS_TOKEN_TYPE],
            },
            "actor_token": {"type": "string", "description": "token-exchange: this app's client assertion"},
            "actor_token_type": {"type": "string", "enum": [oauth.JWT_TOKEN_TYPE]},
            "audience": {
                "type": "string",
                "description": "token-exchange: this app (redeeming a ticket) or a sibling (asking one)",
            },
            "scope": {"type": "string", "description": "token-exchange: a subset of the ticket's scopes"},
            "requested_token_type": {
                "type": "string",
                "enum": [oauth.ACCESS_TOKEN_TYPE, oauth.RECOGNITION_TICKET_TYPE],
            },
            "click_id": {"type": "string", "description": "the conversion click that led here, if any"},
        },
    },
    TokenRequest,
    {
        "jwt_bearer": {
            "summary": "sign-in (RFC 7523)",
            "value": {
                "grant_type": oauth.JWT_BEARER,
                "assertion": "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJtYmFuayJ9.c2lnbmF0dXJl",
            },
        },
        "token_exchange": {
            "summary": "recognition of a customer another app sent with a ticket (RFC 8693)",
            "value": {
                "grant_type": oauth.TOKEN_EXCHANGE,
                "subject_token": "the-ticket-the-other-app-issued",
                "subject_token_type": oauth.RECOGNITION_TICKET_TYPE,
                "actor_token": "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJsaWZlIn0.c2lnbmF0dXJl",
                "actor_token_type": oauth.JWT_TOKEN_TYPE,
                "audience": "life",
                "scope": "profile",
            },
        },
    },
)


async def token_endpoint(request: Request, *, app_id: str, clients: Clients) -> JSONResponse:
    """Answer one token request of the app `app_id` (its backend calls, not the customer)."""
    edge = request.app.state.edge

    async def sign_in(assertion: str, click_id: str) -> dict[str, Any]:
        sign_in = pb.SignInRequest(app_id=app_id, assertion=assertion, click_id=click_id)
        resp = await edge.authenticating(
            lambda: clients.identity.SignIn(sign_in), kind="app", client_id=app_id
        )
        return token_public(resp).model_dump(mode="json")

    async def refresh(refresh_token: str) -> dict[str, Any]:
        resp = await clients.identity.RefreshSession(
            pb.RefreshSessionRequest(app_id=app_id, refresh_token=refresh_token)
        )
        return token_public(resp).model_dump(mode="json")

    async def ticket_for_sibling(params: oauth.TokenParams) -> dict[str, Any]:
        audience, scopes = ticket_parameters(params, app_id=app_id)
        customer = await edge.app_tokens.verify(params.require("subject_token"), app_id=app_id)
        consumer = f"customer:{app_id}:{customer.customer_id}"
        await edge.rate_limits.admit_request(request, group="app", consumer=consumer)
        act_for(Principal("customer", customer.customer_id, app=app_id))
        resp = await clients.identity.IssueRecognitionTicket(
            pb.IssueRecognitionTicketRequest(caller=caller(customer), audience_app_id=audience, scopes=scopes)
        )
        return {
            "access_token": resp.ticket,
            "issued_token_type": oauth.RECOGNITION_TICKET_TYPE,
            "token_type": "N_A",  # RFC 8693 §2.2.1: not an access token
            "expires_in": resp.expires_in,
            "scope": " ".join(scopes or sorted(customer.scopes)),
        }

    async def exchange(params: oauth.TokenParams, click_id: str) -> dict[str, Any]:
        if params.require("subject_token_type") == oauth.ACCESS_TOKEN_TYPE:
            return await ticket_for_sibling(params)
        ticket, assertion, scopes = exchange_parameters(params, app_id=app_id)
        redeem = pb.RedeemRecognitionTicketRequest(
            app_id=app_id, ticket=ticket, client_assertion=assertion, click_id=click_id, scopes=scopes
        )
        resp = await edge.authenticating(
            lambda: clients.identity.RedeemRecognitionTicket(redeem), kind="app", client_id=app_id
        )
        return {**token_public(resp).model_dump(mode="json"), "issued_token_type": oauth.ACCESS_TOKEN_TYPE}

    async def from_form(params: oauth.TokenParams) -> dict[str, Any]:
        grant = params.require("grant_type")
        client_id = params.get("client_id")
        if client_id is not None and client_id != app_id:
            raise oauth.OAuthError("invalid_client", "client_id is not the app of this token endpoint")
        click_id = params.get("click_id") or ""
        if not _CLICK_ID.fullmatch(click_id):
            raise oauth.OAuthError("invalid_request", "click_id is at most 64 letters, digits, _ or -")
        if grant == oauth.JWT_BEARER:
            return await sign_in(params.require("assertion"), click_id)
        if grant == oauth.REFRESH_TOKEN:
            return await refresh(params.require("refresh_token"))
        if grant == oauth.TOKEN_EXCHANGE:
            return await exchange(params, click_id)
        raise oauth.OAuthError(
            "unsupported_grant_type", "apps use jwt-bearer, refresh_token or token-exchange"
        )

    async def from_json(raw: bytes) -> dict[str, Any]:
        body = oauth.json_body(raw, TokenRequest)
        if body.grant_type == JWT_BEARER:
            if not body.assertion:
                raise Problem(422, "assertion_required", "the jwt-bearer grant needs an assertion")
            return await sign_in(body.assertion, body.click_id)
        if not body.refresh_token:
            raise Problem(422, "refresh_token_required", "the refresh_token grant needs a refresh_token")
        return await refresh(body.refresh_token)

    return await oauth.token_endpoint(request, form=from_form, json_request=from_json)


def ticket_parameters(params: oauth.TokenParams, *, app_id: str) -> tuple[str, list[str]]:
    """RFC 8693 §2.1 for a ticket: this app's customer token (subject) for a sibling app (audience)."""
    if params.get("requested_token_type") != oauth.RECOGNITION_TICKET_TYPE:
        raise oauth.OAuthError(
            "invalid_request",
            f"for an access token, requested_token_type must be {oauth.RECOGNITION_TICKET_TYPE}",
        )
    if params.get("actor_token") is not None or params.get("actor_token_type") is not None:
        raise oauth.OAuthError("invalid_request", "a ticket is asked for with the customer's token alone")
    audience = params.require("audience")
    if not _SLUG.fullmatch(audience) or audience == app_id:
        raise oauth.OAuthError("invalid_target", "the audience must be a sibling app's id")
    return audience, parse_scope(params)


def parse_scope(params: oauth.TokenParams) -> list[str]:
    """The space-separated `scope` parameter (RFC 6749 §3.3), at most 20 scope names."""
    scopes = (params.get("scope") or "").split()
    if len(scopes) > 20 or not all(_SCOPE.fullmatch(scope) for scope in scopes):
        raise oauth.OAuthError("invalid_scope", "scope is up to 20 space-separated scope names")
    return scopes


def exchange_parameters(params: oauth.TokenParams, *, app_id: str) -> tuple[str, str, list[str]]:
    """RFC 8693 §2.1 for recognition: the ticket (subject), the app's assertion (actor), the scopes."""
    if params.require("subject_token_type") != oauth.RECOGNITION_TICKET_TYPE:
        raise oauth.OAuthError(
            "invalid_request",
            f"subject_token_type must be {oauth.RECOGNITION_TICKET_TYPE} or {oauth.ACCESS_TOKEN_TYPE}",
        )
    if params.require("actor_token_type") != oauth.JWT_TOKEN_TYPE:
        raise oauth.OAuthError("invalid_request", f"actor_token_type must be {oauth.JWT_TOKEN_TYPE}")
    ticket, assertion = params.require("subject_token"), params.require("actor_token")
    if not _TICKET.fullmatch(ticket):
        raise oauth.OAuthError("invalid_grant", "unknown ticket", code="invalid_ticket")
    if params.get("audience") not in (None, app_id):
        raise oauth.OAuthError("invalid_target", "the audience must be the app of this token endpoint")
    if params.get("requested_token_type") not in (None, oauth.ACCESS_TOKEN_TYPE):
        raise oauth.OAuthError("invalid_request", f"requested_token_type must be {oauth.ACCESS_TOKEN_TYPE}")
    return ticket, assertion, parse_scope(params)
