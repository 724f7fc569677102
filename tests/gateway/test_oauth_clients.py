"""The token endpoints as standard OAuth clients use them: Authlib's OAuth 2.0 client for
client_credentials, RFC 7523 jwt-bearer and RFC 8693 token exchange, and joserfc verifying the issued
tokens from the OpenID discovery document and its JWKS. None of the project's own helpers sign or
send these requests; only the demo credentials come from the demo data."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, OctKey

from services.identity import demo_data

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
TICKET_TYPE = "urn:lattice:params:oauth:token-type:recognition-ticket"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TIMEOUT = 30  # seconds: the machine running the suite may be loaded


@pytest.fixture(scope="module")
def metadata(gateway: httpx.Client) -> dict[str, Any]:
    resp = gateway.get("/.well-known/openid-configuration")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.fixture(scope="module")
def keys(gateway: httpx.Client, metadata: dict[str, Any]) -> KeySet:
    return KeySet.import_key_set(httpx.get(metadata["jwks_uri"], timeout=TIMEOUT).json())


def app_endpoint(metadata: dict[str, Any], app_id: str) -> str:
    return str(metadata["app_token_endpoint"]).replace("{app_id}", app_id)


def assertion(app_id: str, **claims: Any) -> str:
    """An app backend's assertion as RFC 7523 describes it, signed with joserfc (HS256, client secret)."""
    now = int(time.time())
    body = {"iss": app_id, "aud": "lattice-identity", "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex}
    key = OctKey.import_key(demo_data.DEMO_APP_SECRETS[app_id])
    return jose_jwt.encode({"alg": "HS256", "typ": "JWT"}, {**body, **claims}, key)


def verified(token: str, keys: KeySet, metadata: dict[str, Any], *, audience: str) -> dict[str, Any]:
    """The claims of an access token, verified as any relying party would from the discovery document."""
    decoded = jose_jwt.decode(token, keys, algorithms=metadata["id_token_signing_alg_values_supported"])
    assert decoded.header["typ"] == "at+jwt" and decoded.header["kid"]
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.claims)


def test_the_discovery_document_points_at_the_keys_and_endpoints(
    gateway: httpx.Client, metadata: dict[str, Any]
) -> None:
    base = str(gateway.base_url).rstrip("/")
    assert metadata["issuer"] == "lattice-identity"
    assert metadata["jwks_uri"] == base + "/v1/.well-known/jwks.json"
    assert metadata["token_endpoint"] == base + "/v1/ops/token"
    assert metadata["app_token_endpoint"] == base + "/v1/apps/{app_id}/token"
    assert {"client_credentials", JWT_BEARER, "refresh_token", TOKEN_EXCHANGE} == set(
        metadata["grant_types_supported"]
    )
    assert {"client_secret_basic", "client_secret_post"} <= set(
        metadata["token_endpoint_auth_methods_supported"]
    )
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
    assert gateway.get("/.well-known/openid-configuration").headers["cache-control"].startswith("public")


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_an_operator_gets_a_token_with_authlibs_client_credentials(
    method: str, metadata: dict[str, Any], keys: KeySet, gateway: httpx.Client
) -> None:
    secret = demo_data.DEMO_OPERATOR_SECRETS["sh-operator"]
    with OAuth2Client(
        client_id="sh-operator", client_secret=secret, token_endpoint_auth_method=method, timeout=TIMEOUT
    ) as client:
        token = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and 0 < token["expires_in"] <= 900
    assert (token["role"], token["branch"]) == ("operator", "shanghai")
    claims = verified(token["access_token"], keys, metadata, audience="lattice-ops")
    assert (claims["sub"], claims["kind"], claims["branch"]) == ("sh-operator", "operator", "shanghai")
    used = gateway.get("/v1/ops/apps", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert used.status_code == 200, used.text


def test_client_credentials_refusals_are_oauth_errors(
    metadata: dict[str, Any], gateway: httpx.Client
) -> None:
    endpoint = metadata["token_endpoint"]
    with OAuth2Client(
        client_id="hq-viewer",
        client_secret="wrong-secret",
        token_endpoint_auth_method="client_secret_basic",
        timeout=TIMEOUT,
    ) as client:
        with pytest.raises(OAuthError) as refused:
            client.fetch_token(endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"

    basic = base64.b64encode(b"hq-viewer:wrong-secret").decode()
    wrong = gateway.post(
        endpoint, content="grant_type=client_credentials", headers={**FORM, "Authorization": f"Basic {basic}"}
    )
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
    assert (
        wrong.headers["cache-control"] == "no-store" and wrong.headers["content-type"] == "application/json"
    )
    assert wrong.json()["error"] == "invalid_client" and "error_description" in wrong.json()

    secret = demo_data.DEMO_OPERATOR_SECRETS["hq-viewer"]
    cases = {
        "grant_type=password&username=a&password=b": (400, "unsupported_grant_type"),
        "grant_type=client_credentials&grant_type=client_credentials": (400, "invalid_request"),
        "grant_type=client_credentials": (401, "invalid_client"),
        "client_id=hq-viewer": (400, "invalid_request"),
        f"grant_type=client_credentials&client_id=hq-viewer&client_secret={secret}&extra=ignored": (
            200,
            None,
        ),
    }
    for body, (status, error) in cases.items():
        resp = gateway.post(endpoint, content=body, headers=FORM)
        assert resp.status_code == status, (body, resp.text)
        assert resp.headers["cache-control"] == "no-store"
        assert resp.json().get("error") == error, body
    both = gateway.post(
        endpoint,
        content=f"grant_type=client_credentials&client_secret={secret}",
        headers={
            **FORM,
            "Authorization": "Basic " + base64.b64encode(f"hq-viewer:{secret}".encode()).decode(),
        },
    )
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")
    # Lattice's JSON form stays, with RFC 9457 problems
    problem = gateway.post(
        endpoint, json={"grant_type": "client_credentials", "client_id": "hq-viewer", "client_secret": "x"}
    )
    assert problem.status_code == 401 and problem.headers["content-type"] == "application/problem+json"


def test_failed_form_attempts_count_towards_the_operators_lockout(
    metadata: dict[str, Any], gateway: httpx.Client
) -> None:
    probe = f"lock-{uuid.uuid4().hex[:8]}"
    body = f"grant_type=client_credentials&client_id={probe}&client_secret=wrong"
    statuses = [
        gateway.post(metadata["token_endpoint"], content=body, headers=FORM).status_code for _ in range(6)
    ]
    assert statuses[:5] == [401] * 5
    locked = gateway.post(metadata["token_endpoint"], content=body, headers=FORM)
    assert locked.status_code == 429 and locked.json()["error"] == "temporarily_unavailable"
    assert "retry-after" in locked.headers


def test_an_app_backend_signs_in_with_authlibs_jwt_bearer_then_refreshes(
    metadata: dict[str, Any], keys: KeySet, gateway: httpx.Client
) -> None:
    endpoint = app_endpoint(metadata, "mbank")
    user = f"m-{uuid.uuid4().hex[:10]}"
    signed = assertion("mbank", sub=user, acr="2")
    with OAuth2Client(client_id="mbank", token_endpoint_auth_method="none", timeout=TIMEOUT) as client:
        token = client.fetch_token(endpoint, grant_type=JWT_BEARER, assertion=signed)
        assert token["app_user_id"] == user and token["assurance_level"] == 2
        claims = verified(token["access_token"], keys, metadata, audience="mbank")
        assert claims["kind"] == "customer" and claims["acr"].endswith("2")

        with pytest.raises(OAuthError) as replayed:
            client.fetch_token(endpoint, grant_type=JWT_BEARER, assertion=signed)
        assert replayed.value.error == "invalid_grant"

        refreshed = client.refresh_token(endpoint, refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        verified(refreshed["access_token"], keys, metadata, audience="mbank")
        with pytest.raises(OAuthError) as reused:
            client.refresh_token(endpoint, refresh_token=token["refresh_token"])
        assert reused.value.error == "invalid_grant"

    forged = assertion("life", sub=user)  # signed with life's secret, presented to mbank
    resp = gateway.post(endpoint, data={"grant_type": JWT_BEARER, "assertion": forged})
    assert (resp.status_code, resp.json()["error"], resp.json()["code"]) == (
        400,
        "invalid_grant",
        "invalid_assertion",
    )
    other = gateway.post(endpoint, data={"grant_type": JWT_BEARER, "assertion": signed, "client_id": "life"})
    assert (other.status_code, other.json()["error"]) == (401, "invalid_client")


def test_a_sibling_app_recognises_the_customer_with_authlibs_token_exchange(
    metadata: dict[str, Any], keys: KeySet, gateway: httpx.Client
) -> None:
    with OAuth2Client(client_id="mbank", token_endpoint_auth_method="none", timeout=TIMEOUT) as mbank:
        first = mbank.fetch_token(
            app_endpoint(metadata, "mbank"),
            grant_type=JWT_BEARER,
            assertion=assertion("mbank", sub=f"m-{uuid.uuid4().hex[:10]}", acr="2"),
        )
    customer = verified(first["access_token"], keys, metadata, audience="mbank")["sub"]

    mbank_endpoint = app_endpoint(metadata, "mbank")
    ask = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": first["access_token"],
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "requested_token_type": TICKET_TYPE,
        "audience": "life",
    }

    def ticket(scopes: list[str]) -> str:
        """mbank's backend exchanges the customer's access token for a ticket to life (RFC 8693)."""
        with OAuth2Client(client_id="mbank", token_endpoint_auth_method="none", timeout=TIMEOUT) as client:
            issued = client.fetch_token(mbank_endpoint, **ask, scope=" ".join(scopes))
        assert issued["issued_token_type"] == TICKET_TYPE and issued["token_type"] == "N_A"
        assert 0 < issued["expires_in"] <= 60 and issued["scope"].split() == scopes
        return str(issued["access_token"])

    for changes, status, error in [
        ({"audience": "mbank"}, 400, "invalid_target"),
        ({"audience": "wealth"}, 400, "invalid_grant"),  # another legal entity: consent first
        ({"subject_token": "not.a.token"}, 400, "invalid_grant"),
        ({"requested_token_type": ACCESS_TOKEN_TYPE}, 400, "invalid_request"),
        ({"actor_token": assertion("mbank"), "actor_token_type": JWT_TYPE}, 400, "invalid_request"),
        ({"scope": "a-scope-the-token-lacks"}, 400, "invalid_scope"),
    ]:
        resp = gateway.post(mbank_endpoint, data={**ask, **changes})
        assert (resp.status_code, resp.json()["error"]) == (status, error), (changes, resp.text)

    granted = set(first["scope"].split())
    assert len(granted) >= 2, first["scope"]
    narrowed = sorted(granted)[:1]
    endpoint = app_endpoint(metadata, "life")
    subject = ticket(sorted(granted))
    exchange = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject,
        "subject_token_type": TICKET_TYPE,
        "actor_token": assertion("life"),
        "actor_token_type": JWT_TYPE,
        "audience": "life",
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "scope": " ".join(narrowed),
    }
    with OAuth2Client(client_id="life", token_endpoint_auth_method="none", timeout=TIMEOUT) as life:
        token = life.fetch_token(endpoint, **exchange)
        assert token["issued_token_type"] == ACCESS_TOKEN_TYPE and token["token_type"] == "Bearer"
        assert token["expires_in"] > 0 and token["scope"].split() == narrowed
        claims = verified(token["access_token"], keys, metadata, audience="life")
        assert claims["sub"] == customer and claims["act"] == {"sub": "mbank"}
        assert claims["scope"].split() == narrowed

        with pytest.raises(OAuthError) as again:  # single use
            life.fetch_token(endpoint, **{**exchange, "actor_token": assertion("life")})
        assert again.value.error == "invalid_grant"

    def refused(**changes: str) -> httpx.Response:
        body = {
            **exchange,
            "subject_token": ticket(sorted(granted)),
            "actor_token": assertion("life"),
            **changes,
        }
        return gateway.post(endpoint, data={k: v for k, v in body.items() if v})

    cases = [
        ({"audience": "wealth"}, 400, "invalid_target"),
        ({"scope": "not-a-granted-scope"}, 400, "invalid_scope"),
        ({"subject_token_type": ACCESS_TOKEN_TYPE}, 400, "invalid_request"),
        ({"actor_token_type": ""}, 400, "invalid_request"),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"}, 400, "invalid_request"),
        ({"actor_token": assertion("mbank")}, 400, "invalid_grant"),
        ({"subject_token": "no-such-ticket-" + "x" * 20}, 400, "invalid_grant"),
    ]
    for changes, status, error in cases:
        resp = refused(**changes)
        assert (resp.status_code, resp.json()["error"]) == (status, error), (changes, resp.text)
        assert resp.headers["cache-control"] == "no-store"
