"""CustomerService over gRPC: sign-in, sessions, recognition, consent, partner binding and the
resolutions other services ask for (pairwise ids, customer attributes, app accounts)."""

from __future__ import annotations

import asyncio

from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity import binding, consents, customers, keys, recognition, sessions
from services.identity.consents import ConsentGrant
from services.identity.grpc_convert import binding_to_pb, caller_from_pb, tokens_to_pb
from services.identity.profile import customer_profile
from services.runtime.paging import page_size
from services.runtime.proto_mapping import from_proto, to_proto
from services.runtime.service import ServiceContext


class CustomerApi(identity_pb2_grpc.CustomerServiceServicer):
    def __init__(self, ctx: ServiceContext, signer: keys.TokenSigner) -> None:
        self._engine = ctx.engine
        self._signer = signer
        self._pepper = ctx.settings.pepper

    async def SignIn(self, request: pb.SignInRequest, context) -> pb.SignInResponse:
        issued = await asyncio.to_thread(
            sessions.sign_in,
            engine=self._engine,
            signer=self._signer,
            pepper=self._pepper,
            app_id=request.app_id,
            assertion=request.assertion,
            click_id=request.click_id,
        )
        return tokens_to_pb(issued, pb.SignInResponse)

    async def RefreshSession(self, request: pb.RefreshSessionRequest, context) -> pb.RefreshSessionResponse:
        issued = await asyncio.to_thread(
            sessions.refresh_session,
            engine=self._engine,
            signer=self._signer,
            app_id=request.app_id,
            refresh_token=request.refresh_token,
        )
        return tokens_to_pb(issued, pb.RefreshSessionResponse)

    async def SignOutEverywhere(
        self, request: pb.SignOutEverywhereRequest, context
    ) -> pb.SignOutEverywhereResponse:
        caller = caller_from_pb(request.caller)
        ended = await asyncio.to_thread(
            sessions.sign_out_everywhere, engine=self._engine, customer_id=caller.customer_id
        )
        return pb.SignOutEverywhereResponse(sessions_ended=ended)

    async def IssueRecognitionTicket(
        self, request: pb.IssueRecognitionTicketRequest, context
    ) -> pb.IssueRecognitionTicketResponse:
        ticket, expires_in = await asyncio.to_thread(
            recognition.issue_ticket,
            engine=self._engine,
            caller=caller_from_pb(request.caller),
            audience_app_id=request.audience_app_id,
            scopes=list(request.scopes),
        )
        return pb.IssueRecognitionTicketResponse(
            ticket=ticket, expires_in=expires_in, audience_app_id=request.audience_app_id
        )

    async def RedeemRecognitionTicket(
        self, request: pb.RedeemRecognitionTicketRequest, context
    ) -> pb.RedeemRecognitionTicketResponse:
        issued = await asyncio.to_thread(
            recognition.redeem_ticket,
            engine=self._engine,
            signer=self._signer,
            app_id=request.app_id,
            ticket=request.ticket,
            client_assertion=request.client_assertion,
            click_id=request.click_id,
            scopes=list(request.scopes),
        )
        return tokens_to_pb(issued, pb.RedeemRecognitionTicketResponse)

    async def GetCustomerProfile(
        self, request: pb.GetCustomerProfileRequest, context
    ) -> pb.GetCustomerProfileResponse:
        profile = await asyncio.to_thread(
            customer_profile, engine=self._engine, caller=caller_from_pb(request.caller)
        )
        return pb.GetCustomerProfileResponse(profile=profile)

    async def GrantConsent(self, request: pb.GrantConsentRequest, context) -> pb.GrantConsentResponse:
        caller = caller_from_pb(request.caller)
        consent = await asyncio.to_thread(
            consents.grant_consent,
            engine=self._engine,
            customer_id=caller.customer_id,
            app_id=caller.app_id,
            grant=from_proto(ConsentGrant, request.consent),
        )
        return pb.GrantConsentResponse(consent=to_proto(pb.Consent, consent))

    async def ListConsents(self, request: pb.ListConsentsRequest, context) -> pb.ListConsentsResponse:
        caller = caller_from_pb(request.caller)
        found, token = await asyncio.to_thread(
            consents.list_consents,
            engine=self._engine,
            customer_id=caller.customer_id,
            size=page_size(request.page_size),
            token=request.page_token,
        )
        return pb.ListConsentsResponse(
            consents=[to_proto(pb.Consent, c) for c in found], next_page_token=token
        )

    async def WithdrawConsent(
        self, request: pb.WithdrawConsentRequest, context
    ) -> pb.WithdrawConsentResponse:
        caller = caller_from_pb(request.caller)
        consent = await asyncio.to_thread(
            consents.withdraw_consent,
            engine=self._engine,
            customer_id=caller.customer_id,
            consent_id=request.consent_id,
        )
        return pb.WithdrawConsentResponse(consent=to_proto(pb.Consent, consent))

    async def StartPartnerBinding(
        self, request: pb.StartPartnerBindingRequest, context
    ) -> pb.StartPartnerBindingResponse:
        found, partner = await asyncio.to_thread(
            binding.start_binding,
            engine=self._engine,
            partner_id=request.partner_id,
            partner_user_ref=request.partner_user_ref,
            scopes=list(request.scopes),
            required_level=request.required_assurance_level,
        )
        return pb.StartPartnerBindingResponse(binding=binding_to_pb(found, partner))

    async def GetPartnerBinding(
        self, request: pb.GetPartnerBindingRequest, context
    ) -> pb.GetPartnerBindingResponse:
        found, partner = await asyncio.to_thread(
            binding.get_binding,
            engine=self._engine,
            binding_id=request.binding_id,
            partner_id=request.partner_id,
            customer_id=caller_from_pb(request.caller).customer_id if request.HasField("caller") else "",
        )
        return pb.GetPartnerBindingResponse(binding=binding_to_pb(found, partner))

    async def ConfirmPartnerBinding(
        self, request: pb.ConfirmPartnerBindingRequest, context
    ) -> pb.ConfirmPartnerBindingResponse:
        found, consent = await asyncio.to_thread(
            binding.confirm_binding,
            engine=self._engine,
            pepper=self._pepper,
            caller=caller_from_pb(request.caller),
            binding_id=request.binding_id,
            grant=from_proto(ConsentGrant, request.consent),
        )
        return pb.ConfirmPartnerBindingResponse(
            binding=binding_to_pb(found), consent=to_proto(pb.Consent, consent)
        )

    async def CompletePartnerBinding(
        self, request: pb.CompletePartnerBindingRequest, context
    ) -> pb.CompletePartnerBindingResponse:
        done = await asyncio.to_thread(
            binding.complete_binding,
            engine=self._engine,
            signer=self._signer,
            partner_id=request.partner_id,
            binding_id=request.binding_id,
        )
        return pb.CompletePartnerBindingResponse(
            pairwise_id=done.pairwise_id,
            partner_user_ref=done.partner_user_ref,
            access_token=done.access_token,
            expires_in=int(binding.PARTNER_TOKEN_TTL.total_seconds()),
            scopes=done.scopes,
        )

    async def GetPartnerLink(self, request: pb.GetPartnerLinkRequest, context) -> pb.GetPartnerLinkResponse:
        link = await asyncio.to_thread(
            binding.find_link,
            engine=self._engine,
            partner_id=request.partner_id,
            pairwise=request.pairwise_id,
        )
        return pb.GetPartnerLinkResponse(link=to_proto(pb.PartnerLink, link))

    async def RemovePartnerLink(
        self, request: pb.RemovePartnerLinkRequest, context
    ) -> pb.RemovePartnerLinkResponse:
        customer_id = caller_from_pb(request.caller).customer_id if request.HasField("caller") else ""
        link = await asyncio.to_thread(
            binding.remove_link,
            engine=self._engine,
            partner_id=request.partner_id,
            pairwise=request.pairwise_id,
            customer_id=customer_id,
        )
        return pb.RemovePartnerLinkResponse(link=to_proto(pb.PartnerLink, link))

    async def ResolvePairwiseId(
        self, request: pb.ResolvePairwiseIdRequest, context
    ) -> pb.ResolvePairwiseIdResponse:
        link = await asyncio.to_thread(
            binding.find_link,
            engine=self._engine,
            partner_id=request.partner_id,
            pairwise=request.pairwise_id,
        )
        return pb.ResolvePairwiseIdResponse(customer_id=link.customer_id)

    async def GetPairwiseId(self, request: pb.GetPairwiseIdRequest, context) -> pb.GetPairwiseIdResponse:
        pairwise = await asyncio.to_thread(
            binding.pairwise_for_customer,
            engine=self._engine,
            partner_id=request.partner_id,
            customer_id=request.customer_id,
        )
        return pb.GetPairwiseIdResponse(pairwise_id=pairwise, consent_active=bool(pairwise))

    async def GetCustomerAttributes(
        self, request: pb.GetCustomerAttributesRequest, context
    ) -> pb.GetCustomerAttributesResponse:
        customer, app_ids = await asyncio.to_thread(
            customers.get_customer, engine=self._engine, customer_id=request.customer_id
        )
        customer_pb = to_proto(pb.CustomerAttributes, customer, app_ids=app_ids, time_zone="Asia/Shanghai")
        return pb.GetCustomerAttributesResponse(customer=customer_pb)

    async def ResolveAppAccount(
        self, request: pb.ResolveAppAccountRequest, context
    ) -> pb.ResolveAppAccountResponse:
        customer_id = await asyncio.to_thread(
            customers.resolve_app_account,
            engine=self._engine,
            app_id=request.app_id,
            app_user_id=request.app_user_id,
        )
        return pb.ResolveAppAccountResponse(customer_id=customer_id)
