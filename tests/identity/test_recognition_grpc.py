"""Sign-in, tokens, cross-app tickets and sessions through the gRPC API of a real in-process server."""

from __future__ import annotations

from datetime import timedelta

import grpc
import jwt
import pytest
from lattice.identity.v1 import identity_pb2 as pb

from services.identity import recognition
from services.runtime.clock import utcnow
from tests.identity.conftest import Identity, reason


async def test_sign_in_issues_an_audience_bound_short_lived_es256_token(identity: Identity) -> None:
    tokens = await identity.sign_in("mbank", "u-sign-in", level=2)
    claims = await identity.verify(tokens.access_token, "mbank")
    assert claims["sub"].startswith("cus_") and claims["acr"] == "2"
    assert 0 < claims["exp"] - claims["iat"] <= 900 and claims["jti"] and claims["sid"]
    again = await identity.sign_in("mbank", "u-sign-in", level=1)
    assert (await identity.verify(again.access_token, "mbank"))["sub"] == claims["sub"]
    with pytest.raises(jwt.InvalidAudienceError):
        await identity.verify(tokens.access_token, "life")


async def test_ticket_for_life_yields_life_token_for_the_same_customer(identity: Identity) -> None:
    tokens = await identity.sign_in("mbank", "u-ticket", level=2)
    caller = await identity.caller(tokens.access_token, "mbank")
    issued = await identity.customers.IssueRecognitionTicket(
        pb.IssueRecognitionTicketRequest(
            caller=caller, audience_app_id="life", scopes=["benefits", "profile"]
        )
    )
    assert issued.expires_in <= 60
    life = await identity.customers.RedeemRecognitionTicket(identity.redeem_request("life", issued.ticket))
    claims = await identity.verify(life.access_token, "life")
    assert claims["sub"] == caller.customer_id
    assert claims["act"] == {"sub": "mbank"}
    assert set(claims["scope"].split()) == {"benefits", "profile"}
    attrs = await identity.customers.GetCustomerAttributes(
        pb.GetCustomerAttributesRequest(customer_id=caller.customer_id)
    )
    assert set(attrs.customer.app_ids) == {"mbank", "life"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RedeemRecognitionTicket(identity.redeem_request("life", issued.ticket))
    assert reason(err) == "ticket_already_redeemed"


async def test_ticket_scopes_must_be_a_subset(identity: Identity) -> None:
    tokens = await identity.sign_in("mbank", "u-scope")
    caller = await identity.caller(tokens.access_token, "mbank")
    del caller.scopes[:]
    caller.scopes.append("profile")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.IssueRecognitionTicket(
            pb.IssueRecognitionTicketRequest(caller=caller, audience_app_id="life", scopes=["benefits"])
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and reason(err) == "scope_not_allowed"


async def test_ticket_redeemed_by_a_third_app_or_after_61_s_is_rejected(
    identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await identity.sign_in("mbank", "u-third")
    caller = await identity.caller(tokens.access_token, "mbank")
    request = pb.IssueRecognitionTicketRequest(caller=caller, audience_app_id="life")
    stolen = (await identity.customers.IssueRecognitionTicket(request)).ticket
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RedeemRecognitionTicket(identity.redeem_request("wealth", stolen))
    assert reason(err) == "ticket_audience_mismatch"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RedeemRecognitionTicket(identity.redeem_request("life", stolen))
    assert reason(err) == "ticket_already_redeemed"

    late = (await identity.customers.IssueRecognitionTicket(request)).ticket
    monkeypatch.setattr(recognition, "utcnow", lambda: utcnow() + timedelta(seconds=61))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RedeemRecognitionTicket(identity.redeem_request("life", late))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and reason(err) == "ticket_expired"


async def test_recognition_into_another_legal_entity_needs_consent(identity: Identity) -> None:
    tokens = await identity.sign_in("mbank", "u-wealth", level=3)
    caller = await identity.caller(tokens.access_token, "mbank")
    request = pb.IssueRecognitionTicketRequest(caller=caller, audience_app_id="wealth")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.IssueRecognitionTicket(request)
    assert reason(err) == "consent_required"
    grant = pb.ConsentGrant(
        recipient_type="app",
        recipient="wealth",
        purpose="cross_app_recognition",
        data_categories=["identity", "assurance_level"],
        text_version="wealth-recognition-v1",
    )
    consent = (
        await identity.customers.GrantConsent(pb.GrantConsentRequest(caller=caller, consent=grant))
    ).consent
    ticket = (await identity.customers.IssueRecognitionTicket(request)).ticket
    wealth = await identity.customers.RedeemRecognitionTicket(identity.redeem_request("wealth", ticket))
    assert (await identity.verify(wealth.access_token, "wealth"))["sub"] == caller.customer_id

    await identity.customers.WithdrawConsent(
        pb.WithdrawConsentRequest(caller=caller, consent_id=consent.consent_id)
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RefreshSession(
            pb.RefreshSessionRequest(app_id="wealth", refresh_token=wealth.refresh_token)
        )
    assert reason(err) == "session_revoked"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.IssueRecognitionTicket(request)
    assert reason(err) == "consent_required"
    listed = await identity.customers.ListConsents(pb.ListConsentsRequest(caller=caller))
    assert [c.consent_id for c in listed.consents] == [consent.consent_id]
    assert listed.consents[0].withdrawn_at.seconds > 0


async def test_refresh_token_reuse_revokes_the_whole_family(identity: Identity) -> None:
    first = await identity.sign_in("life", "u-refresh")
    second = await identity.customers.RefreshSession(
        pb.RefreshSessionRequest(app_id="life", refresh_token=first.refresh_token)
    )
    assert second.refresh_token != first.refresh_token
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RefreshSession(
            pb.RefreshSessionRequest(app_id="life", refresh_token=first.refresh_token)
        )
    assert reason(err) == "refresh_token_reused"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RefreshSession(
            pb.RefreshSessionRequest(app_id="life", refresh_token=second.refresh_token)
        )
    assert reason(err) == "session_revoked"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RefreshSession(
            pb.RefreshSessionRequest(app_id="mbank", refresh_token="x" * 43)
        )
    assert reason(err) == "invalid_refresh_token"


async def test_sign_out_everywhere_ends_every_apps_sessions(identity: Identity) -> None:
    mbank = await identity.sign_in("mbank", "u-logout")
    caller = await identity.caller(mbank.access_token, "mbank")
    ticket = await identity.customers.IssueRecognitionTicket(
        pb.IssueRecognitionTicketRequest(caller=caller, audience_app_id="life")
    )
    life = await identity.customers.RedeemRecognitionTicket(identity.redeem_request("life", ticket.ticket))
    pending = await identity.customers.IssueRecognitionTicket(
        pb.IssueRecognitionTicketRequest(caller=caller, audience_app_id="life")
    )
    ended = await identity.customers.SignOutEverywhere(pb.SignOutEverywhereRequest(caller=caller))
    assert ended.sessions_ended >= 2
    for app_id, tokens in (("mbank", mbank), ("life", life)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await identity.customers.RefreshSession(
                pb.RefreshSessionRequest(app_id=app_id, refresh_token=tokens.refresh_token)
            )
        assert reason(err) == "session_revoked"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.RedeemRecognitionTicket(identity.redeem_request("life", pending.ticket))
    assert reason(err) == "ticket_expired"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.IssueRecognitionTicket(
            pb.IssueRecognitionTicketRequest(caller=caller, audience_app_id="life")
        )
    assert reason(err) == "session_revoked"
