"""Identity routes for sibling bank apps: sign-in, refresh, cross-app tickets, consent, binding confirmation.

`POST /v1/apps/{app_id}/token` and `.../tickets/redeem` are called by the app's backend, which
proves itself with an assertion signed with its client secret; every other route acts on the
signed-in customer of the access token (CustomerDep), never on an id from the path or the body.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import JSONResponse
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import CustomerDep, CustomerPrincipal
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.openapi_marks import documents
from gateway.policies.denial import PolicyDenied
from gateway.problems import Problem
from gateway.routes.identity import oauth
from gateway.routes.identity.schemas import (
    BindingOut,
    ClickId,
    ConsentIn,
    ConsentOut,
    Jwt,
    OpaqueToken,
    Scope,
    Slug,
    Strict,
    TokenOut,
    binding_out,
    consent_out,
    token_out,
)
from services.runtime.on_behalf import Principal, act_for


@documents(404)
async def _app_in_path(app_id: Slug, request: Request) -> str:
    """A registered app, or 404 app_not_found (a sign-in for an unknown app is not a token problem)."""
    try:
        await asyncio.to_thread(request.app.state.edge.app_tokens.require_app, app_id)
    except PolicyDenied as denied:
        raise Problem(denied.status, denied.code, denied.detail) from None
    return app_id


public_router = APIRouter(prefix="/v1/apps/{app_id}", tags=["identity"], dependencies=[Depends(_app_in_path)])
router = APIRouter(prefix="/v1/apps/{app_id}", tags=["identity"], dependencies=[Depends(_app_in_path)])
JWT_BEARER = oauth.JWT_BEARER
_CLICK_ID = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
_TICKET = re.compile(r"^[A-Za-z0-9_-]{16,200}$")
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
_SCOPE = re.compile(r"^[a-z][a-z0-9_:.-]{0,39}$")
BindingId = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^bnd_[A-Za-z0-9_-]+$")]
ConsentId = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^cst_[a-f0-9]+$")]


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


class TicketRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"audience_app_id": "life", "scopes": ["profile"]}]}
    )
    audience_app_id: Slug
    scopes: list[Scope] = Field(default_factory=list, max_length=20)


class TicketOut(BaseModel):
    ticket: str
    expires_in: int
    audience_app_id: str


class RedeemRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticket": "tkt_Qm9vdHN0cmFwVGlja2V0",
                    "client_assertion": "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJsaWZlIn0.c2lnbmF0dXJl",
                }
            ]
        }
    )
    ticket: OpaqueToken
    client_assertion: Jwt
    click_id: ClickId = ""


class SignedOut(BaseModel):
    sessions_ended: int


class ProfileOut(BaseModel):
    app_id: str
    app_user_id: str
    assurance_level: int
    phone_masked: str
    editions: list[str]
    branch: str | None
    linked_app_ids: list[str]


class ConfirmBinding(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "consent": {
                        "recipient_type": "partner",
                        "recipient": "ride",
                        "purpose": "partner_binding",
                        "data_categories": ["pairwise_id", "benefits"],
                        "text_version": "binding-2026.1",
                    }
                }
            ]
        }
    )
    consent: ConsentIn | None = None


class BindingConfirmed(BaseModel):
    binding: BindingOut
    consent: ConsentOut


def caller(customer: CustomerPrincipal) -> pb.CustomerCaller:
    """The authenticated customer as identity's RPCs take it."""
    return pb.CustomerCaller(
        customer_id=customer.customer_id,
        app_id=customer.app_id,
        assurance_level=customer.assurance_level,
        token_id=customer.token_id,
        scopes=sorted(customer.scopes),
    )


@public_router.post(
    "/token",
    operation_id="sign_in_customer",
    summary="Sign a customer in, or refresh their tokens",
    response_model=TokenOut,
    openapi_extra=APP_TOKEN_BODY,
    responses=oauth.ERROR_RESPONSES,
)
async def token(app_id: Slug, clients: ClientsDep, request: Request) -> JSONResponse:
    """Sign-in (the app backend's signed assertion), refresh-token rotation, or recognition of a
    customer another app sent with a ticket (RFC 8693 token exchange, form-encoded only).

    Form-encoded requests are OAuth 2.0 token requests (OAuth error bodies); Lattice's JSON body
    takes sign-in and refresh and answers RFC 9457 problems."""
    edge = request.app.state.edge

    async def sign_in(assertion: str, click_id: str) -> dict[str, Any]:
        sign_in = pb.SignInRequest(app_id=app_id, assertion=assertion, click_id=click_id)
        resp = await edge.authenticating(
            lambda: clients.identity.SignIn(sign_in), kind="app", client_id=app_id
        )
        return token_out(resp).model_dump(mode="json")

    async def refresh(refresh_token: str) -> dict[str, Any]:
        resp = await clients.identity.RefreshSession(
            pb.RefreshSessionRequest(app_id=app_id, refresh_token=refresh_token)
        )
        return token_out(resp).model_dump(mode="json")

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
        return {**token_out(resp).model_dump(mode="json"), "issued_token_type": oauth.ACCESS_TOKEN_TYPE}

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


@public_router.post(
    "/tickets/redeem",
    operation_id="redeem_recognition_ticket",
    summary="Exchange a cross-app ticket for this app's tokens",
    response_model=TokenOut,
)
async def redeem_ticket(app_id: Slug, body: RedeemRequest, clients: ClientsDep, request: Request) -> TokenOut:
    """The sibling app named by the ticket exchanges it for its own tokens (single use, 60 s)."""
    redeem = pb.RedeemRecognitionTicketRequest(
        app_id=app_id, ticket=body.ticket, client_assertion=body.client_assertion, click_id=body.click_id
    )
    resp = await request.app.state.edge.authenticating(
        lambda: clients.identity.RedeemRecognitionTicket(redeem), kind="app", client_id=app_id
    )
    return token_out(resp)


@router.post(
    "/tickets",
    operation_id="issue_recognition_ticket",
    summary="Issue a ticket that lets another app recognise the customer",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketOut,
)
async def issue_ticket(body: TicketRequest, customer: CustomerDep, clients: ClientsDep) -> TicketOut:
    """A one-time ticket that lets `audience_app_id` recognise the signed-in customer."""
    resp = await clients.identity.IssueRecognitionTicket(
        pb.IssueRecognitionTicketRequest(
            caller=caller(customer), audience_app_id=body.audience_app_id, scopes=body.scopes
        )
    )
    return TicketOut(ticket=resp.ticket, expires_in=resp.expires_in, audience_app_id=resp.audience_app_id)


@router.post(
    "/logout-everywhere",
    operation_id="log_out_everywhere",
    summary="End the customer's sessions in every app",
    response_model=SignedOut,
)
async def logout_everywhere(customer: CustomerDep, clients: ClientsDep) -> SignedOut:
    """End the customer's sessions in every app."""
    resp = await clients.identity.SignOutEverywhere(pb.SignOutEverywhereRequest(caller=caller(customer)))
    return SignedOut(sessions_ended=resp.sessions_ended)


@router.get(
    "/me",
    operation_id="get_my_profile",
    summary="Get the signed-in customer's profile",
    response_model=ProfileOut,
)
async def me(customer: CustomerDep, clients: ClientsDep) -> ProfileOut:
    """The signed-in customer's profile in this app; contact data masked."""
    p = (
        await clients.identity.GetCustomerProfile(pb.GetCustomerProfileRequest(caller=caller(customer)))
    ).profile
    return ProfileOut(
        app_id=p.app_id,
        app_user_id=p.app_user_id,
        assurance_level=p.assurance_level,
        phone_masked=p.phone_masked,
        editions=list(p.editions),
        branch=p.branch or None,
        linked_app_ids=list(p.linked_app_ids),
    )


@router.get(
    "/consents",
    operation_id="list_my_consents",
    summary="List the customer's consents",
    response_model=list[ConsentOut],
)
async def list_consents(customer: CustomerDep, clients: ClientsDep) -> list[ConsentOut]:
    """The customer's consents, withdrawn ones included."""
    resp = await clients.identity.ListConsents(pb.ListConsentsRequest(caller=caller(customer)))
    return [consent_out(c) for c in resp.consents]


@router.post(
    "/consents",
    operation_id="grant_consent",
    summary="Grant a separate consent",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentOut,
)
async def grant_consent(
    body: ConsentIn, customer: CustomerDep, clients: ClientsDep, idempotency_key: IdempotencyKeyDep = None
) -> ConsentOut:
    """Record a separate consent (e.g. recognition in an app of another legal entity)."""
    resp = await clients.identity.GrantConsent(
        pb.GrantConsentRequest(caller=caller(customer), consent=body.to_pb())
    )
    return consent_out(resp.consent)


@router.post(
    "/consents/{consent_id}/withdraw",
    operation_id="withdraw_consent",
    summary="Withdraw a consent",
    response_model=ConsentOut,
)
async def withdraw_consent(consent_id: ConsentId, customer: CustomerDep, clients: ClientsDep) -> ConsentOut:
    """Withdraw at once: partner links end, recognised sessions end, partners are notified."""
    resp = await clients.identity.WithdrawConsent(
        pb.WithdrawConsentRequest(caller=caller(customer), consent_id=consent_id)
    )
    return consent_out(resp.consent)


@router.get(
    "/partner-bindings/{binding_id}",
    operation_id="get_partner_binding_request",
    summary="Get what a partner binding asks for",
    response_model=BindingOut,
)
async def get_binding(binding_id: BindingId, customer: CustomerDep, clients: ClientsDep) -> BindingOut:
    """What a partner asks for, to show on the consent screen."""
    resp = await clients.identity.GetPartnerBinding(
        pb.GetPartnerBindingRequest(binding_id=binding_id, caller=caller(customer))
    )
    return binding_out(resp.binding)


@router.post(
    "/partner-bindings/{binding_id}/confirm",
    operation_id="confirm_partner_binding",
    summary="Confirm a partner binding",
    response_model=BindingConfirmed,
)
async def confirm_binding(
    binding_id: BindingId, body: ConfirmBinding, customer: CustomerDep, clients: ClientsDep
) -> BindingConfirmed:
    """The signed-in customer proves control and gives the separate consent for the partner."""
    if body.consent is None:
        raise Problem(403, "consent_required", "binding needs a separate consent naming the partner")
    resp = await clients.identity.ConfirmPartnerBinding(
        pb.ConfirmPartnerBindingRequest(
            caller=caller(customer), binding_id=binding_id, consent=body.consent.to_pb()
        )
    )
    return BindingConfirmed(binding=binding_out(resp.binding), consent=consent_out(resp.consent))


@router.delete(
    "/partner-links/{partner_id}",
    operation_id="unbind_partner",
    summary="Unbind a partner",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def unbind_partner(partner_id: Slug, customer: CustomerDep, clients: ClientsDep) -> Response:
    """The customer unbinds a partner (the partner is notified; consent history stays)."""
    await clients.identity.RemovePartnerLink(
        pb.RemovePartnerLinkRequest(partner_id=partner_id, caller=caller(customer))
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
