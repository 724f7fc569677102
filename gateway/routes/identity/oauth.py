"""The OAuth 2.0 token endpoint on the wire, as every OAuth client speaks it.

A form-encoded request (RFC 6749 §3.2) is a standard OAuth request: its parameters are read once
each (a repeated one is `invalid_request`, an unknown one is ignored), a client may authenticate
with HTTP Basic or with `client_id` / `client_secret` in the body (§2.3.1, not both), and every
refusal is an OAuth error body (§5.2): `{"error", "error_description"}` with 400, or 401 for
`invalid_client`, plus Lattice's precise `code`. A JSON request is Lattice's own form: its refusals
stay RFC 9457 problems like every other route's. Both answer `Cache-Control: no-store`.

Grant types: `client_credentials` (operators), RFC 7523 `jwt-bearer` (an app backend's sign-in
assertion), `refresh_token`, and RFC 8693 `token-exchange` (cross-app recognition).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from gateway.problems import Problem, problem_from_rpc_error

FORM = "application/x-www-form-urlencoded"
CLIENT_CREDENTIALS = "client_credentials"
REFRESH_TOKEN = "refresh_token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
# RFC 8693 §3 lets a deployment name its own token types by URI: the one-time cross-app ticket
RECOGNITION_TICKET_TYPE = "urn:lattice:params:oauth:token-type:recognition-ticket"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BASIC_CHALLENGE = 'Basic realm="lattice", charset="UTF-8"'

# Lattice codes that are OAuth errors other than the default of their status
_ERROR_BY_CODE = {
    "invalid_client": "invalid_client",
    "scope_not_allowed": "invalid_scope",
    "invalid_scope": "invalid_scope",
    "invalid_target": "invalid_target",
    "same_app": "invalid_target",
    "app_not_found": "invalid_target",
    "validation_failed": "invalid_request",
    "personal_data_not_allowed": "invalid_request",
}
# the rest by status: a credential or grant the server refuses is invalid_grant (RFC 6749 §5.2,
# RFC 7523 §3.1, RFC 8693 §2.2.2); 429 / 5xx keep their status and Retry-After
_ERROR_BY_STATUS = {
    400: "invalid_request",
    401: "invalid_grant",
    403: "invalid_grant",
    404: "invalid_grant",
    409: "invalid_grant",
    422: "invalid_request",
}


class OAuthError(Exception):
    """A refusal of a form-encoded token request, answered as RFC 6749 §5.2 says."""

    def __init__(
        self, error: str, description: str, *, status: int | None = None, code: str = "", basic: bool = False
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status or (401 if error == "invalid_client" else 400)
        self.code = code or error
        self.headers = dict(NO_STORE)
        if self.status == 401:
            self.headers["WWW-Authenticate"] = BASIC_CHALLENGE

    @classmethod
    def of(cls, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> OAuthError:
        """The OAuth error of a Lattice refusal (a problem or a service's status)."""
        error = _ERROR_BY_CODE.get(code) or _ERROR_BY_STATUS.get(status) or "temporarily_unavailable"
        kept = status if error == "temporarily_unavailable" else None
        refusal = cls(error, detail or code, status=kept, code=code)
        if headers and "Retry-After" in headers:
            refusal.headers["Retry-After"] = headers["Retry-After"]
        return refusal

    def response(self) -> JSONResponse:
        body = {"error": self.error, "error_description": self.description, "code": self.code}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


@dataclass(frozen=True)
class TokenParams:
    """The parameters of one form-encoded token request, each present at most once."""

    values: dict[str, str]
    # client credentials from HTTP Basic (RFC 6749 §2.3.1), if the client sent them there
    basic: tuple[str, str] | None = None

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise OAuthError("invalid_request", f"the {name} parameter is required")
        return value

    def client_credentials(self) -> tuple[str, str]:
        """client_id and client_secret: from HTTP Basic or from the body, never both."""
        client_id, secret = self.get("client_id"), self.get("client_secret")
        if self.basic is not None:
            if secret is not None or (client_id is not None and client_id != self.basic[0]):
                raise OAuthError("invalid_request", "authenticate with HTTP Basic or in the body, not both")
            return self.basic
        if client_id is None or secret is None:
            raise OAuthError("invalid_client", "client authentication is required (HTTP Basic or body)")
        return client_id, secret


def parse_form(body: bytes, authorization: str | None) -> TokenParams:
    """RFC 6749 §3.2: form parameters, each once; HTTP Basic client credentials when sent."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the body is not a valid form") from exc
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise OAuthError("invalid_request", f"the {name} parameter is repeated")
        if len(value) > 8192:
            raise OAuthError("invalid_request", f"the {name} parameter is too long")
        values[name] = value
    return TokenParams(values=values, basic=basic_credentials(authorization))


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_id and secret of `Authorization: Basic`, each form-url-decoded (RFC 6749 §2.3.1)."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "token requests authenticate with HTTP Basic or in the body")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "the Basic credentials are not valid base64") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise OAuthError("invalid_client", "the Basic credentials are not client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)


def json_body(raw: bytes, model: type[BaseModel]) -> Any:
    """Lattice's JSON form of a token request, validated like any JSON body (422 validation_failed)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the body is not valid JSON", "type": "json_invalid"}]
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from None


async def token_endpoint(
    request: Request,
    *,
    form: Callable[[TokenParams], Awaitable[dict[str, Any]]],
    json_request: Callable[[bytes], Awaitable[dict[str, Any]]],
) -> JSONResponse:
    """Answer one token request: OAuth errors for a form, RFC 9457 problems for JSON; never cached."""
    raw = await request.body()
    essence = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if essence != FORM:
        return JSONResponse(await json_request(raw), headers=NO_STORE)
    try:
        params = parse_form(raw, request.headers.get("authorization"))
        return JSONResponse(await form(params), headers=NO_STORE)
    except OAuthError as refusal:
        return refusal.response()
    except Problem as problem:
        return OAuthError.of(problem.status, problem.code, problem.detail, problem.headers).response()
    except grpc.aio.AioRpcError as error:
        refused = problem_from_rpc_error(error)
        return OAuthError.of(refused.status, refused.code, refused.detail, refused.headers).response()


def request_body(
    form_schema: dict[str, Any], json_model: type[BaseModel], examples: dict[str, Any]
) -> dict[str, Any]:
    """The `requestBody` of a token route: the OAuth form (with examples) and Lattice's JSON."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                FORM: {"schema": form_schema, "examples": examples},
                "application/json": {"schema": json_model.model_json_schema()},
            },
        }
    }


_OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "title": "OAuthError",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "invalid_scope",
                "invalid_target",
                "unsupported_grant_type",
                "temporarily_unavailable",
            ],
        },
        "error_description": {"type": "string"},
        "code": {"type": "string", "description": "Lattice's precise reason, as in problem documents"},
    },
}


def _error(description: str, *, problem: bool) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _OAUTH_ERROR_SCHEMA}}
    if problem:
        content["application/problem+json"] = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {"description": description, "content": content}


# A token route's refusals: OAuth error bodies (form-encoded requests), problems (JSON requests).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("OAuth error (RFC 6749 §5.2) of a form-encoded request", problem=False),
    401: _error("`invalid_client` (form, with `WWW-Authenticate: Basic`) or a problem (JSON)", problem=True),
    429: _error("Locked out after failed credentials, or rate limited (`Retry-After`)", problem=True),
    503: _error("A service is unavailable; retry (`Retry-After`)", problem=True),
    504: _error("A service did not answer in time", problem=True),
}
