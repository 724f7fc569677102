"""Identity routes for sibling bank apps: sign-in, refresh, cross-app tickets, consent, binding confirmation.

`POST /v1/apps/{app_id}/token` and `.../tickets/redeem` are called by the app's backend, which
proves itself with an assertion signed with its client secret; every other route acts on the
signed-in customer of the access token (CustomerDep), never on an id from the path or the body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import JSONResponse
from lattice.identity.v1 import identity_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import CustomerDep
from gateway.clients import ClientsDep
from gateway.idempotency import IdempotencyKeyDep
from gateway.openapi_marks import documents
from gateway.paging import Page, PageSize, PageToken
from gateway.policies.denial import PolicyDenied
from gateway.problems import Problem
from gateway.routes.identity import app_token, oauth
from gateway.routes.identity.schemas import (
    BindingPublic,
    ClickId,
    ConsentCreate,
    ConsentPublic,
    Jwt,
    OpaqueToken,
    Scope,
    Slug,
    Strict,
    TokenPublic,
    caller,
    token_public,
)
from services.runtime.proto_mapping import from_proto, to_proto


@documents(404)
async def _app_in_path(app_id: Slug, request: Request) -> str:
    """A registered app, or 404 app_not_found (a sign-in for an unknown app is not a token problem)."""
    try:
        await request.app.state.edge.app_tokens.check_app(app_id)
    except PolicyDenied as denied:
        raise Problem(denied.status, denied.code, denied.detail) from None
    return app_id


public_router = APIRouter(prefix="/v1/apps/{app_id}", tags=["identity"], dependencies=[Depends(_app_in_path)])
router = APIRouter(prefix="/v1/apps/{app_id}", tags=["identity"], dependencies=[Depends(_app_in_path)])
BindingId = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^bnd_[A-Za-z0-9_-]+$")]
ConsentId = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^cst_[a-f0-9]+$")]


class TicketRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"audience_app_id": "life", "scopes": ["profile"]}]}
    )
    audience_app_id: Slug
    scopes: list[Scope] = Field(default_factory=list, max_length=20)


class TicketPublic(BaseModel):
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


class SessionsEndedPublic(BaseModel):
    sessions_ended: int


class ProfilePublic(BaseModel):
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
    consent: ConsentCreate | None = None


class ConsentPage(Page[ConsentPublic]):
    """One page of the customer's consents, newest first."""


class BindingConfirmed(BaseModel):
    binding: BindingPublic
    consent: ConsentPublic


@public_router.post(
    "/token",
    operation_id="sign_in_customer",
    summary="Sign a customer in, or refresh their tokens",
    response_model=TokenPublic,
    openapi_extra=app_token.APP_TOKEN_BODY,
    responses=oauth.ERROR_RESPONSES,
)
async def token(app_id: Slug, clients: ClientsDep, request: Request) -> JSONResponse:
    """Sign-in (the app backend's signed assertion), refresh-token rotation, or recognition of a
    customer another app sent with a ticket (RFC 8693 token exchange, form-encoded only).

    Form-encoded requests are OAuth 2.0 token requests (OAuth error bodies); Lattice's JSON body
    takes sign-in and refresh and answers RFC 9457 problems."""
    return await app_token.token_endpoint(request, app_id=app_id, clients=clients)


@public_router.post(
    "/tickets/redeem",
    operation_id="redeem_recognition_ticket",
    summary="Exchange a cross-app ticket for this app's tokens",
    response_model=TokenPublic,
)
async def redeem_ticket(
    app_id: Slug, body: RedeemRequest, clients: ClientsDep, request: Request
) -> TokenPublic:
    """The sibling app named by the ticket exchanges it for its own tokens (single use, 60 s)."""
    redeem = to_proto(pb.RedeemRecognitionTicketRequest, body, app_id=app_id)
    resp = await request.app.state.edge.authenticating(
        lambda: clients.identity.RedeemRecognitionTicket(redeem), kind="app", client_id=app_id
    )
    return token_public(resp)


@router.post(
    "/tickets",
    operation_id="issue_recognition_ticket",
    summary="Issue a ticket that lets another app recognise the customer",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketPublic,
)
async def issue_ticket(body: TicketRequest, customer: CustomerDep, clients: ClientsDep) -> TicketPublic:
    """A one-time ticket that lets `audience_app_id` recognise the signed-in customer."""
    resp = await clients.identity.IssueRecognitionTicket(
        to_proto(pb.IssueRecognitionTicketRequest, body, caller=caller(customer))
    )
    return from_proto(TicketPublic, resp)


@router.post(
    "/logout-everywhere",
    operation_id="log_out_everywhere",
    summary="End the customer's sessions in every app",
    response_model=SessionsEndedPublic,
)
async def logout_everywhere(customer: CustomerDep, clients: ClientsDep) -> SessionsEndedPublic:
    """End the customer's sessions in every app."""
    resp = await clients.identity.SignOutEverywhere(pb.SignOutEverywhereRequest(caller=caller(customer)))
    return SessionsEndedPublic(sessions_ended=resp.sessions_ended)


@router.get(
    "/me",
    operation_id="get_my_profile",
    summary="Get the signed-in customer's profile",
    response_model=ProfilePublic,
)
async def me(customer: CustomerDep, clients: ClientsDep) -> ProfilePublic:
    """The signed-in customer's profile in this app; contact data masked."""
    p = (
        await clients.identity.GetCustomerProfile(pb.GetCustomerProfileRequest(caller=caller(customer)))
    ).profile
    return from_proto(ProfilePublic, p)


@router.get(
    "/consents",
    operation_id="list_my_consents",
    summary="List the customer's consents",
    response_model=ConsentPage,
)
async def list_consents(
    customer: CustomerDep, clients: ClientsDep, page_size: PageSize = 50, page_token: PageToken = ""
) -> ConsentPage:
    """The customer's consents, newest first, withdrawn ones included."""
    resp = await clients.identity.ListConsents(
        pb.ListConsentsRequest(caller=caller(customer), page_size=page_size, page_token=page_token)
    )
    return ConsentPage.of([from_proto(ConsentPublic, c) for c in resp.consents], resp.next_page_token)


@router.post(
    "/consents",
    operation_id="grant_consent",
    summary="Grant a separate consent",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentPublic,
)
async def grant_consent(
    body: ConsentCreate, customer: CustomerDep, clients: ClientsDep, idempotency_key: IdempotencyKeyDep = None
) -> ConsentPublic:
    """Record a separate consent (e.g. recognition in an app of another legal entity)."""
    resp = await clients.identity.GrantConsent(
        pb.GrantConsentRequest(caller=caller(customer), consent=to_proto(pb.ConsentGrant, body))
    )
    return from_proto(ConsentPublic, resp.consent)


@router.post(
    "/consents/{consent_id}/withdraw",
    operation_id="withdraw_consent",
    summary="Withdraw a consent",
    response_model=ConsentPublic,
)
async def withdraw_consent(
    consent_id: ConsentId, customer: CustomerDep, clients: ClientsDep
) -> ConsentPublic:
    """Withdraw at once: partner links end, recognised sessions end, partners are notified."""
    resp = await clients.identity.WithdrawConsent(
        pb.WithdrawConsentRequest(caller=caller(customer), consent_id=consent_id)
    )
    return from_proto(ConsentPublic, resp.consent)


@router.get(
    "/partner-bindings/{binding_id}",
    operation_id="get_partner_binding_request",
    summary="Get what a partner binding asks for",
    response_model=BindingPublic,
)
async def get_binding(binding_id: BindingId, customer: CustomerDep, clients: ClientsDep) -> BindingPublic:
    """What a partner asks for, to show on the consent screen."""
    resp = await clients.identity.GetPartnerBinding(
        pb.GetPartnerBindingRequest(binding_id=binding_id, caller=caller(customer))
    )
    return from_proto(BindingPublic, resp.binding)


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
        to_proto(pb.ConfirmPartnerBindingRequest, body, caller=caller(customer), binding_id=binding_id)
    )
    return BindingConfirmed(
        binding=from_proto(BindingPublic, resp.binding), consent=from_proto(ConsentPublic, resp.consent)
    )


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
