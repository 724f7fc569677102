"""GetCustomerProfile (the token-verified app read `GET /v1/apps/{app}/me`) through the gRPC API of a
real in-process server: the caller's own account in the calling app, masked contact data only."""

from __future__ import annotations

import time
import uuid

import grpc
import jwt
import pytest
from lattice.identity.v1 import identity_pb2 as pb

from services.identity import demo_data
from services.identity.assertions import ASSERTION_AUDIENCE
from tests.identity.conftest import Identity, reason


async def _profile(identity: Identity, caller: pb.CustomerCaller) -> pb.CustomerProfile:
    resp = await identity.customers.GetCustomerProfile(pb.GetCustomerProfileRequest(caller=caller))
    return resp.profile


async def _life_account(identity: Identity, mbank: pb.CustomerCaller, app_user_id: str) -> pb.CustomerCaller:
    """Link the customer to `life` under `app_user_id` through a recognition ticket."""
    issued = await identity.customers.IssueRecognitionTicket(
        pb.IssueRecognitionTicketRequest(caller=mbank, audience_app_id="life", scopes=["profile"])
    )
    now = int(time.time())
    claims = {"iss": "life", "aud": ASSERTION_AUDIENCE, "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    # the account the app wants linked (an `app_user_id` claim: not the sign-in's `sub`)
    assertion = jwt.encode(
        {**claims, "app_user_id": app_user_id}, demo_data.DEMO_APP_SECRETS["life"], algorithm="HS256"
    )
    life = await identity.customers.RedeemRecognitionTicket(
        pb.RedeemRecognitionTicketRequest(app_id="life", ticket=issued.ticket, client_assertion=assertion)
    )
    return await identity.caller(life.access_token, "life")


async def test_profile_is_the_callers_account_in_the_calling_app_with_masked_contact(
    identity: Identity,
) -> None:
    tokens = await identity.sign_in(
        "mbank",
        "u-profile",
        level=2,
        phone_number="13812345678",
        branch="north",
        editions=["student", "elderly"],
    )
    mbank = await identity.caller(tokens.access_token, "mbank")
    profile = await _profile(identity, mbank)
    assert profile.app_id == "mbank" and profile.app_user_id == "u-profile"
    assert profile.assurance_level == 2 and profile.branch == "north"
    assert list(profile.editions) == ["elderly", "student"]
    assert profile.phone_masked == "138******78"
    assert "13812345678" not in str(profile) and mbank.customer_id not in str(profile)
    assert list(profile.linked_app_ids) == ["mbank"]

    # a second app, then a second account in it: the profile there is the first linked account
    life = await _life_account(identity, mbank, "life-zeta")
    await _life_account(identity, mbank, "life-alpha")
    in_life = await _profile(identity, life)
    assert in_life.app_id == "life" and in_life.app_user_id == "life-zeta"
    assert list(in_life.linked_app_ids) == ["life", "mbank"]
    again = await _profile(identity, mbank)
    assert again.app_user_id == "u-profile" and list(again.linked_app_ids) == ["life", "mbank"]
    assert again.phone_masked == "138******78" and list(again.editions) == ["elderly", "student"]


async def test_profile_of_another_customer_or_app_is_not_found(identity: Identity) -> None:
    tokens = await identity.sign_in("mbank", "u-profile-only-mbank")
    mbank = await identity.caller(tokens.access_token, "mbank")
    elsewhere = pb.CustomerCaller()
    elsewhere.CopyFrom(mbank)
    elsewhere.app_id = "life"  # no account of theirs there
    nobody = pb.CustomerCaller()
    nobody.CopyFrom(mbank)
    nobody.customer_id = "cus_" + "0" * 20
    for caller in (elsewhere, nobody):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _profile(identity, caller)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and reason(err) == "customer_not_found"


async def test_profile_read_answers_the_latest_sign_in(identity: Identity) -> None:
    """No stale copy: what a later sign-in asserts shows in the next read."""
    first = await identity.sign_in("mbank", "u-profile-fresh", level=1, branch="south")
    caller = await identity.caller(first.access_token, "mbank")
    assert (await _profile(identity, caller)).branch == "south"
    await identity.sign_in("mbank", "u-profile-fresh", level=3, branch="east")
    profile = await _profile(identity, caller)
    assert profile.branch == "east" and profile.assurance_level == 3
