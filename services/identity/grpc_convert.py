"""Protobuf <-> identity's domain where the shapes differ; the rest maps field by field by name
through the one mapping (services/runtime/proto_mapping.py)."""

from __future__ import annotations

from typing import TypeVar

from lattice.identity.v1 import identity_pb2 as pb

from services.identity.models import Partner, PartnerBinding
from services.identity.recognition import Caller
from services.identity.sessions import IssuedTokens
from services.runtime.errors import Unauthenticated
from services.runtime.proto_mapping import from_proto, to_proto

CONSENT_TEXT_VERSION = "partner-binding-v1"
# The three RPCs that issue a customer's tokens answer with messages of the same fields.
Tokens = TypeVar("Tokens", pb.SignInResponse, pb.RefreshSessionResponse, pb.RedeemRecognitionTicketResponse)


def caller_from_pb(caller: pb.CustomerCaller) -> Caller:
    if not caller.customer_id or not caller.app_id:
        raise Unauthenticated("unauthenticated", "a signed-in customer is required")
    # a caller without an assurance level signed in at the lowest
    return from_proto(Caller, caller, assurance_level=caller.assurance_level or 1)


def tokens_to_pb(issued: IssuedTokens, reply: type[Tokens]) -> Tokens:
    return to_proto(reply, issued, token_type="Bearer")


def binding_to_pb(binding: PartnerBinding, partner: Partner | None = None) -> pb.PartnerBinding:
    """A binding with what the customer consents to by confirming it (the same for every binding)."""
    return to_proto(
        pb.PartnerBinding,
        binding,
        partner_name=partner.name if partner else "",
        purpose="partner_account_binding",
        data_categories=["pairwise_id", "assurance_level"],
        consent_text_version=CONSENT_TEXT_VERSION,
    )
