"""Partner binding, pairwise ids, consent withdrawal and its events, through a real in-process server."""

from __future__ import annotations

import asyncio

import grpc
import nats
import pytest
from lattice.identity.v1 import events_pb2
from lattice.identity.v1 import identity_pb2 as pb

from tests.identity.conftest import Identity, reason


def partner_grant(partner_id: str) -> pb.ConsentGrant:
    return pb.ConsentGrant(
        recipient_type="partner",
        recipient=partner_id,
        purpose="partner_account_binding",
        data_categories=["pairwise_id", "assurance_level"],
        text_version="partner-binding-v1",
    )


async def bind(
    identity: Identity, caller: pb.CustomerCaller, partner_id: str, ref: str
) -> pb.CompletePartnerBindingResponse:
    started = await identity.customers.StartPartnerBinding(
        pb.StartPartnerBindingRequest(partner_id=partner_id, partner_user_ref=ref)
    )
    await identity.customers.ConfirmPartnerBinding(
        pb.ConfirmPartnerBindingRequest(
            caller=caller, binding_id=started.binding.binding_id, consent=partner_grant(partner_id)
        )
    )
    return await identity.customers.CompletePartnerBinding(
        pb.CompletePartnerBindingRequest(partner_id=partner_id, binding_id=started.binding.binding_id)
    )


async def test_pairwise_ids_differ_across_partners_and_are_stable(identity: Identity) -> None:
    tokens = await identity.sign_in("mbank", "u-pairwise", level=2)
    caller = await identity.caller(tokens.access_token, "mbank")
    ride = await bind(identity, caller, "ride", "ride-user-1")
    food = await bind(identity, caller, "food", "food-user-1")
    assert ride.pairwise_id != food.pairwise_id
    for pairwise in (ride.pairwise_id, food.pairwise_id):
        assert caller.customer_id not in pairwise and caller.customer_id[4:] not in pairwise
    claims = await identity.verify(ride.access_token, "partner:ride")
    assert claims["sub"] == ride.pairwise_id and caller.customer_id not in str(claims)
    assert (await bind(identity, caller, "ride", "ride-user-1")).pairwise_id == ride.pairwise_id
    await identity.customers.RemovePartnerLink(
        pb.RemovePartnerLinkRequest(partner_id="ride", pairwise_id=ride.pairwise_id)
    )
    assert (await bind(identity, caller, "ride", "ride-user-1b")).pairwise_id == ride.pairwise_id
    resolved = await identity.customers.ResolvePairwiseId(
        pb.ResolvePairwiseIdRequest(partner_id="ride", pairwise_id=ride.pairwise_id)
    )
    assert resolved.customer_id == caller.customer_id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.ResolvePairwiseId(
            pb.ResolvePairwiseIdRequest(partner_id="food", pairwise_id=ride.pairwise_id)
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_binding_without_proof_or_consent_is_refused_and_links_nothing(identity: Identity) -> None:
    tokens = await identity.sign_in("mbank", "u-no-consent", level=2)
    caller = await identity.caller(tokens.access_token, "mbank")
    started = await identity.customers.StartPartnerBinding(
        pb.StartPartnerBindingRequest(partner_id="ride", partner_user_ref="ride-user-2")
    )
    binding_id = started.binding.binding_id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.CompletePartnerBinding(
            pb.CompletePartnerBindingRequest(partner_id="ride", binding_id=binding_id)
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and reason(err) == "consent_required"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.ConfirmPartnerBinding(
            pb.ConfirmPartnerBindingRequest(caller=caller, binding_id=binding_id)
        )
    assert reason(err) == "consent_required"
    wrong_recipient = partner_grant("food")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.ConfirmPartnerBinding(
            pb.ConfirmPartnerBindingRequest(caller=caller, binding_id=binding_id, consent=wrong_recipient)
        )
    assert reason(err) == "consent_required"
    caller.assurance_level = 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.customers.ConfirmPartnerBinding(
            pb.ConfirmPartnerBindingRequest(
                caller=caller, binding_id=binding_id, consent=partner_grant("ride")
            )
        )
    assert reason(err) == "step_up_required"
    pairwise = await identity.customers.GetPairwiseId(
        pb.GetPairwiseIdRequest(partner_id="ride", customer_id=caller.customer_id)
    )
    assert pairwise.pairwise_id == "" and not pairwise.consent_active
    assert not (await identity.customers.ListConsents(pb.ListConsentsRequest(caller=caller))).consents


async def test_withdrawal_stops_the_partner_at_once_and_notifies(identity: Identity, nats_url: str) -> None:
    tokens = await identity.sign_in("mbank", "u-withdraw", level=3)
    caller = await identity.caller(tokens.access_token, "mbank")
    done = await bind(identity, caller, "food", "food-user-9")
    consent_id = (
        (await identity.customers.ListConsents(pb.ListConsentsRequest(caller=caller))).consents[0].consent_id
    )
    nc = await nats.connect(nats_url)
    seen: dict[str, bytes] = {}
    both = asyncio.Event()

    async def collect(msg) -> None:
        seen[msg.subject] = msg.data
        both.set() if len(seen) == 2 else None

    await nc.subscribe("identity.partner_link.removed", cb=collect)
    await nc.subscribe("identity.consent.withdrawn", cb=collect)
    try:
        await identity.customers.WithdrawConsent(
            pb.WithdrawConsentRequest(caller=caller, consent_id=consent_id)
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await identity.customers.GetPartnerLink(
                pb.GetPartnerLinkRequest(partner_id="food", pairwise_id=done.pairwise_id)
            )
        assert reason(err) == "consent_withdrawn"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await identity.customers.ResolvePairwiseId(
                pb.ResolvePairwiseIdRequest(partner_id="food", pairwise_id=done.pairwise_id)
            )
        assert reason(err) == "consent_withdrawn"
        await asyncio.wait_for(both.wait(), timeout=5)
    finally:
        await nc.close()
    removed = events_pb2.PartnerLinkRemoved.FromString(seen["identity.partner_link.removed"])
    assert (removed.partner_id, removed.pairwise_id, removed.reason) == (
        "food",
        done.pairwise_id,
        "consent_withdrawn",
    )
    withdrawn = events_pb2.ConsentWithdrawn.FromString(seen["identity.consent.withdrawn"])
    assert (withdrawn.consent_id, withdrawn.recipient) == (consent_id, "food")
    history = (await identity.customers.ListConsents(pb.ListConsentsRequest(caller=caller))).consents
    assert [c.consent_id for c in history] == [consent_id] and history[0].withdrawn_at.seconds > 0


async def test_phone_is_kept_only_as_keyed_hash_and_mask(identity: Identity) -> None:
    phone = "13712345678"
    tokens = await identity.sign_in("life", "u-phone", level=2, phone_number=phone)
    caller = await identity.caller(tokens.access_token, "life")
    profile = (
        await identity.customers.GetCustomerProfile(pb.GetCustomerProfileRequest(caller=caller))
    ).profile
    assert profile.phone_masked == "137******78"
    database = identity.service.ctx.settings.var_dir / "identity.db"
    for path in database.parent.glob("identity.db*"):
        assert phone.encode() not in path.read_bytes(), path
