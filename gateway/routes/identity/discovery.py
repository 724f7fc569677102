"""OpenID Provider metadata (`/.well-known/openid-configuration`, RFC 8414 fields): where a relying
party (Kong's OIDC plugins, a partner's or an app's JOSE library) finds the token signing keys, the
issuer the tokens carry and the token endpoints, so it is configured from one URL.

Lattice issues access tokens (RFC 9068, ES256), no ID tokens and has no authorization endpoint:
`response_types_supported` is empty. The issuer is the name every token's `iss` carries
(`lattice-identity`), the same string the gateway and Kong verify. Operators use `token_endpoint`;
each app has its own, `app_token_endpoint` with the app id in place of `{app_id}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.policies.tokens import ALGORITHM, ISSUER
from gateway.routes.identity import oauth

router = APIRouter(tags=["system"])
JWKS_PATH = "/v1/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


def provider_metadata(base_url: str) -> dict[str, Any]:
    """The metadata document, every URL absolute under `base_url`."""
    base = base_url.rstrip("/")
    return {
        "issuer": ISSUER,
        "jwks_uri": base + JWKS_PATH,
        "token_endpoint": base + "/v1/ops/token",
        "app_token_endpoint": base + "/v1/apps/{app_id}/token",
        "grant_types_supported": [
            oauth.CLIENT_CREDENTIALS,
            oauth.JWT_BEARER,
            oauth.REFRESH_TOKEN,
            oauth.TOKEN_EXCHANGE,
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "access_token_signing_alg_values_supported": [ALGORITHM],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "kind",
            "scope",
            "acr",
            "sid",
            "act",
            "role",
            "branch",
        ],
        "service_documentation": base + "/docs",
    }


@router.get(
    DISCOVERY_PATH,
    operation_id="get_openid_configuration",
    summary="OpenID Provider metadata: issuer, JWKS and token endpoints",
)
async def openid_configuration(request: Request) -> JSONResponse:
    """Where the token keys and endpoints are; URLs as this request reached the gateway."""
    return JSONResponse(
        provider_metadata(str(request.base_url)), headers={"Cache-Control": "public, max-age=300"}
    )
