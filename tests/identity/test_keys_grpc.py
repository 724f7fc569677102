"""Signing-key rotation, operator credentials and partner signing keys through the gRPC API."""

from __future__ import annotations

import asyncio
import json

import grpc
import jwt
import pytest
from lattice.identity.v1 import identity_pb2 as pb

from services.identity import demo_data
from tests.identity.conftest import Identity, reason


async def test_old_key_verifies_during_the_overlap_and_fails_after(identity: Identity) -> None:
    before = await identity.sign_in("mbank", "u-rotation")
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]
    rotated = await identity.registry.RotateSigningKey(pb.RotateSigningKeyRequest(overlap_seconds=2))
    assert rotated.previous_kid == old_kid and rotated.kid != old_kid
    after = await identity.sign_in("mbank", "u-rotation")
    assert jwt.get_unverified_header(after.access_token)["kid"] == rotated.kid
    await identity.verify(before.access_token, "mbank")
    await identity.verify(after.access_token, "mbank")
    await asyncio.sleep(2.2)
    with pytest.raises(jwt.InvalidKeyError):
        await identity.verify(before.access_token, "mbank")
    await identity.verify(after.access_token, "mbank")
    keys = json.loads((await identity.registry.GetJwks(pb.GetJwksRequest())).jwks_json)["keys"]
    assert [k["kid"] for k in keys] == [rotated.kid] and all("d" not in k for k in keys)


async def test_operator_tokens_carry_role_and_branch(identity: Identity) -> None:
    for operator_id, role, branch in (("hq-admin", "admin", None), ("sh-operator", "operator", "shanghai")):
        secret = demo_data.DEMO_OPERATOR_SECRETS[operator_id]
        resp = await identity.registry.IssueOperatorToken(
            pb.IssueOperatorTokenRequest(operator_id=operator_id, client_secret=secret)
        )
        claims = await identity.verify(resp.access_token, "lattice-ops")
        assert (claims["sub"], claims["role"], claims.get("branch")) == (operator_id, role, branch)
        assert claims["exp"] - claims["iat"] <= 900
    for operator_id, secret in (("hq-admin", "wrong-secret"), ("nobody", "whatever")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await identity.registry.IssueOperatorToken(
                pb.IssueOperatorTokenRequest(operator_id=operator_id, client_secret=secret)
            )
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and reason(err) == "invalid_client"


async def test_partner_key_rotation_keeps_the_old_key_for_the_overlap(identity: Identity) -> None:
    _, _, key_id, secret = demo_data.DEMO_PARTNERS["ride"]
    current = await identity.registry.GetPartnerSigningKey(
        pb.GetPartnerSigningKeyRequest(partner_id="ride", key_id=key_id)
    )
    assert current.secret == secret and current.not_after.seconds == 0
    rotated = await identity.registry.RotatePartnerSigningKey(
        pb.RotatePartnerSigningKeyRequest(partner_id="ride", overlap_seconds=1)
    )
    assert rotated.key_id != key_id and len(rotated.secret) == 32
    old = await identity.registry.GetPartnerSigningKey(
        pb.GetPartnerSigningKeyRequest(partner_id="ride", key_id=key_id)
    )
    assert old.not_after.seconds > 0
    await asyncio.sleep(1.2)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await identity.registry.GetPartnerSigningKey(
            pb.GetPartnerSigningKeyRequest(partner_id="ride", key_id=key_id)
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    new = await identity.registry.GetPartnerSigningKey(
        pb.GetPartnerSigningKeyRequest(partner_id="ride", key_id=rotated.key_id)
    )
    assert new.secret == rotated.secret


async def test_assertions_must_be_signed_by_the_app_fresh_and_used_once(identity: Identity) -> None:
    from services.identity.app_client import app_assertion

    good = app_assertion(
        app_id="life", client_secret=demo_data.DEMO_APP_SECRETS["life"], app_user_id="u-assert"
    )
    await identity.customers.SignIn(pb.SignInRequest(app_id="life", assertion=good))
    bad = {
        "assertion_replayed": good,
        "invalid_assertion": app_assertion(app_id="life", client_secret="x" * 40, app_user_id="u-assert"),
    }
    unsigned = jwt.encode({"iss": "life", "aud": "lattice-identity", "sub": "u"}, None, algorithm="none")
    long_lived = app_assertion(
        app_id="life",
        client_secret=demo_data.DEMO_APP_SECRETS["life"],
        app_user_id="u-assert",
        lifetime_s=3600,
    )
    other_app = app_assertion(
        app_id="mbank", client_secret=demo_data.DEMO_APP_SECRETS["mbank"], app_user_id="u-assert"
    )
    for expected, assertion in [
        *bad.items(),
        ("invalid_assertion", unsigned),
        ("invalid_assertion", long_lived),
        ("invalid_assertion", other_app),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await identity.customers.SignIn(pb.SignInRequest(app_id="life", assertion=assertion))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and reason(err) == expected


async def test_every_token_names_its_kind_and_app_ids_never_take_another_kinds_audience(
    identity: Identity,
) -> None:
    customer = await identity.sign_in("mbank", "u-kind")
    secret = demo_data.DEMO_OPERATOR_SECRETS["hq-admin"]
    operator = await identity.registry.IssueOperatorToken(
        pb.IssueOperatorTokenRequest(operator_id="hq-admin", client_secret=secret)
    )
    for token, audience, kind in (
        (customer.access_token, "mbank", "customer"),
        (operator.access_token, "lattice-ops", "operator"),
    ):
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        assert (await identity.verify(token, audience))["kind"] == kind
    for reserved in ("lattice-ops", "lattice-identity", "lattice-anything"):
        app = pb.App(
            app_id=reserved, name="Not an app", role=pb.APP_ROLE_VERTICAL, legal_entity="Lattice Bank"
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await identity.registry.RegisterApp(pb.RegisterAppRequest(app=app))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and reason(err) == "reserved_app_id"
