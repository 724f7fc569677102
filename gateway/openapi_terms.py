"""The words of the API description: the kinds of caller (tags), the security schemes they use and the
error responses, each with what it tells the reader."""

from __future__ import annotations

from typing import Any

# tag, the path prefixes that route to it, what the tag describes
CALLERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "apps",
        ("/v1/apps/",),
        "Sibling bank apps, on behalf of a signed-in customer: `Authorization: Bearer <access token>` "
        "issued by `POST /v1/apps/{app_id}/token` (audience = the app). Routes act on the token's "
        "customer, never on an id taken from the path or the body.",
    ),
    (
        "partner",
        ("/v1/partner/",),
        "Partner platforms: every request is signed with HMAC-SHA256 over the exact request "
        "(the five `X-Lattice-*` headers, see docs/partner-signing.md). The partner-only description is "
        "at `/v1/partner/openapi.json`.",
    ),
    (
        "ops",
        ("/v1/ops/",),
        "Bank operations staff: `Authorization: Bearer <operator token>` from `POST /v1/ops/token` "
        "(OAuth 2.0 client credentials). The token carries a role and a scope (head office or one branch).",
    ),
    (
        "core banking",
        ("/v1/core/",),
        "The bank's core banking system: milestones signed with its own HMAC key (`X-Lattice-System`).",
    ),
    (
        "providers",
        ("/v1/providers/",),
        "Messaging providers (SMS, push, partner channels): delivery receipts signed as Standard Webhooks.",
    ),
    ("public", ("/r/",), "Campaign links that customers' browsers follow; no credentials."),
    (
        "system",
        ("/",),
        "Health, readiness and the public token keys (JWKS); no credentials.",
    ),
)
PARTNER_TAG = "partner"

_SIGNATURE_HEADERS = {
    "partner_id": ("X-Lattice-Partner", "The partner id, e.g. `ride`."),
    "partner_key_id": ("X-Lattice-Key-Id", "The id of the signing key head office issued to the partner."),
    "partner_timestamp": ("X-Lattice-Timestamp", "Unix time in seconds when signed (within 300 s)."),
    "partner_nonce": ("X-Lattice-Nonce", "16-64 characters `A-Z a-z 0-9 _ -`, never reused."),
    "partner_signature": (
        "X-Lattice-Signature",
        "Base64 HMAC-SHA256 of the canonical request (method, path, canonical query, timestamp, nonce, "
        "partner id, key id, body SHA-256) with the decoded secret; see docs/partner-signing.md.",
    ),
    "core_system": ("X-Lattice-System", "The core banking system's id."),
    "core_key_id": ("X-Lattice-Key-Id", "The id of the core system's signing key."),
    "core_timestamp": ("X-Lattice-Timestamp", "Unix time in seconds when signed."),
    "core_nonce": ("X-Lattice-Nonce", "A one-time value, never reused."),
    "core_signature": (
        "X-Lattice-Signature",
        "Base64 HMAC-SHA256 of the canonical request (tools/core_banking_client.py).",
    ),
    "webhook_id": ("webhook-id", "Standard Webhooks message id, unique per receipt batch."),
    "webhook_timestamp": ("webhook-timestamp", "Standard Webhooks timestamp (Unix seconds)."),
    "webhook_signature": (
        "webhook-signature",
        "Standard Webhooks signature (`v1,<base64 HMAC-SHA256>`) with the channel's provider secret.",
    ),
}


def _jwt_bearer(description: str) -> dict[str, Any]:
    return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": description}


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "app_token": _jwt_bearer(
        "A customer's access token from `POST /v1/apps/{app_id}/token` (audience = the app)."
    ),
    "operator_token": _jwt_bearer(
        "An operator token from `POST /v1/ops/token` (audience `lattice-ops`, 15 minutes)."
    ),
    "operator_oauth2": {
        "type": "oauth2",
        "description": "OAuth 2.0 client credentials of a member of staff (client id = operator id).",
        "flows": {"clientCredentials": {"tokenUrl": "/v1/ops/token", "scopes": {}}},
    },
    **{
        name: {"type": "apiKey", "in": "header", "name": header, "description": text}
        for name, (header, text) in _SIGNATURE_HEADERS.items()
    },
}

# status: (component name, what the caller learns from it)
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    401: (
        "Unauthorized",
        "Credentials missing, malformed, expired or revoked, or a signature that does not match the "
        "request; `code` says which (e.g. `token_expired`, `signature_invalid`).",
    ),
    403: (
        "Forbidden",
        "The caller is known but may not do this: role, branch scope, another app's token, a partner "
        "scope, or four eyes (`own_work`).",
    ),
    404: ("NotFound", "No such object in the caller's reach (another branch's or customer's is not found)."),
    409: (
        "Conflict",
        "The object's state does not allow this now, it exists already, or a request with the same "
        "`Idempotency-Key` is still running (`idempotency_in_flight`, `Retry-After`).",
    ),
    413: ("ContentTooLarge", "The body is larger than the gateway's limit (`body_too_large`)."),
    415: ("UnsupportedMediaType", "The body is not JSON (`unsupported_media_type`)."),
    422: (
        "UnprocessableContent",
        "The request is not valid: `validation_failed` lists each field in `errors`; or a service "
        "refused the values; or an `Idempotency-Key` was reused with another body. Nothing was written.",
    ),
    429: (
        "TooManyRequests",
        "Over the caller's quota (`rate_limited`: `Retry-After` and `RateLimit-*` headers), or locked "
        "out after repeated authentication failures (`authentication_locked`).",
    ),
    431: ("RequestHeaderFieldsTooLarge", "Too many request headers, or too large (`headers_too_large`)."),
    503: ("ServiceUnavailable", "A service the request needs is unavailable; retry after `Retry-After`."),
    504: ("GatewayTimeout", "A service did not answer within the request's deadline."),
}


def caller_tag(path: str) -> str:
    """The kind of caller a path serves (the longest matching prefix)."""
    matches = [
        (prefix, tag) for tag, prefixes, _ in CALLERS for prefix in prefixes if path.startswith(prefix)
    ]
    return max(matches, key=lambda match: len(match[0]))[1]
