"""Protobuf <-> domain conversions shared by the identity servicers."""

from __future__ import annotations

from typing import TypeVar

from lattice.identity.v1 import identity_pb2 as pb

from services.identity.consents import ConsentGrant
from services.identity.models import App, Consent, Partner, PartnerBinding, PartnerLink
from services.identity.recognition import Caller
from services.identity.sessions import IssuedTokens
from services.runtime.clock import to_timestamp
from services.runtime.errors import Unauthenticated

ROLE_TO_PB = {"core": pb.APP_ROLE_CORE, "main": pb.APP_ROLE_MAIN, "vertical": pb.APP_ROLE_VERTICAL}
ROLE_FROM_PB = {v: k for k, v in ROLE_TO_PB.items()}
# The three RPCs that issue a customer's tokens answer with messages of the same fields.
Tokens = TypeVar("Tokens", pb.SignInResponse, pb.RefreshSessionResponse, pb.RedeemRecognitionTicketResponse)


def app_to_pb(app: App) -> pb.App:
    return pb.App(
        app_id=app.app_id,
        name=app.name,
        role=ROLE_TO_PB.get(app.role, pb.APP_ROLE_UNSPECIFIED),
        legal_entity=app.legal_entity,
        editions=app.editions,
    )


def partner_to_pb(partner: Partner) -> pb.Partner:
    return pb.Partner(
        partner_id=partner.partner_id,
        name=partner.name,
        sector=partner.sector,
        allowed_scopes=partner.allowed_scopes,
        postback_url=partner.postback_url,
        created_at=to_timestamp(partner.created_at),
    )


def caller_from_pb(caller: pb.CustomerCaller) -> Caller:
    if not caller.customer_id or not caller.app_id:
        raise Unauthenticated("unauthenticated", "a signed-in customer is required")
    return Caller(
        customer_id=caller.customer_id,
        app_id=caller.app_id,
        assurance_level=caller.assurance_level or 1,
        token_id=caller.token_id,
        scopes=tuple(caller.scopes),
    )


def grant_from_pb(grant: pb.ConsentGrant) -> ConsentGrant:
    return ConsentGrant(
        recipient_type=grant.recipient_type,
        recipient=grant.recipient,
        purpose=grant.purpose,
        data_categories=tuple(grant.data_categories),
        text_version=grant.text_version,
    )


def tokens_to_pb(issued: IssuedTokens, reply: type[Tokens]) -> Tokens:
    return reply(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        token_type="Bearer",
        scopes=issued.scopes,
        app_user_id=issued.app_user_id,
        assurance_level=issued.assurance_level,
    )


def consent_to_pb(consent: Consent) -> pb.Consent:
    return pb.Consent(
        consent_id=consent.consent_id,
        recipient_type=consent.recipient_type,
        recipient=consent.recipient,
        purpose=consent.purpose,
        data_categories=consent.data_categories,
        text_version=consent.text_version,
        granted_at=to_timestamp(consent.granted_at),
        withdrawn_at=to_timestamp(consent.withdrawn_at) if consent.withdrawn_at else None,
        granted_in_app_id=consent.granted_in_app_id,
    )


def binding_to_pb(binding: PartnerBinding, partner: Partner | None = None) -> pb.PartnerBinding:
    return pb.PartnerBinding(
        binding_id=binding.binding_id,
        partner_id=binding.partner_id,
        partner_name=partner.name if partner else "",
        scopes=binding.scopes,
        required_assurance_level=binding.required_assurance_level,
        status=binding.status,
        expires_at=to_timestamp(binding.expires_at),
        purpose="partner_account_binding",
        data_categories=["pairwise_id", "assurance_level"],
        consent_text_version=CONSENT_TEXT_VERSION,
    )


def link_to_pb(link: PartnerLink) -> pb.PartnerLink:
    return pb.PartnerLink(
        partner_id=link.partner_id,
        pairwise_id=link.pairwise_id,
        scopes=link.scopes,
        linked_at=to_timestamp(link.linked_at),
        consent_id=link.consent_id,
    )


CONSENT_TEXT_VERSION = "partner-binding-v1"
