"""Who is calling: access tokens (apps, operators) and partner signatures."""

ENTRIES: dict[str, tuple[str, str, str]] = {
    # --- tokens (apps, operators) -------------------------------------------------------------
    "token_missing": (
        "No access token",
        "The route needs `Authorization: Bearer <token>` and the request has none.",
        "Get a token (apps: `POST /v1/apps/{app_id}/token`; operators: `POST /v1/ops/token`) and send it.",
    ),
    "token_malformed": (
        "The token cannot be read",
        "The bearer token is not a JWT Lattice issued (wrong format, header or `typ`).",
        "Send the `access_token` from the token response unchanged.",
    ),
    "token_invalid": (
        "The token is not valid",
        "The token's signature, issuer or claims do not check out.",
        "Get a new token from the token endpoint; never edit or re-sign a token.",
    ),
    "token_expired": (
        "The token has expired",
        "Access tokens live at most 15 minutes.",
        "Refresh it (apps: refresh token grant) or request a new one (operators), then retry.",
    ),
    "token_audience": (
        "Token for another audience",
        "The token was issued for another app or audience than the route's `{app_id}`.",
        "Use a token issued for this app (cross-app: exchange a ticket for a token of the target app).",
    ),
    "token_kind": (
        "Token of the wrong kind",
        "Every route takes one kind of token (customer, operator, partner, service); this one is "
        "another kind.",
        "Use the kind of token the route documents (app routes: a customer token; ops routes: an "
        "operator token).",
    ),
    "operator_token_required": (
        "Operator token required",
        "Operations routes (`/v1/ops/...`) need an operator token.",
        "Get one from `POST /v1/ops/token` (client credentials) and send it as a bearer token.",
    ),
    "unknown_key": (
        "Unknown key",
        "The token's `kid` or the signature's `X-Lattice-Key-Id` names a key Lattice does not know "
        "(never issued, expired after a rotation, or withdrawn).",
        "Tokens: get a new one. Partners: sign with the current key id the bank gave you.",
    ),
    "session_ended": (
        "The session has ended",
        "The customer signed out everywhere, a refresh token was reused, or consent was withdrawn; "
        "the session's tokens are refused.",
        "Sign the customer in again.",
    ),
    "session_revoked": (
        "The session was revoked",
        "The refresh token's family was revoked (sign-out, reuse or an operator's action).",
        "Sign the customer in again.",
    ),
    "step_up_required": (
        "Stronger sign-in required",
        "The action needs a higher assurance level than the token's.",
        "Have the customer authenticate again at the required level, then retry with the new token.",
    ),
    "unauthenticated": (
        "Not authenticated",
        "The request carries no credentials the route accepts, or they were refused.",
        "Send the credentials the route documents in `/docs` (bearer token or partner signature).",
    ),
    "authentication_locked": (
        "Too many failed authentications",
        "After repeated failures from this client the gateway refuses authentications for a while.",
        "Wait the seconds in `Retry-After`; then fix the credentials before trying again.",
    ),
    "keys_unavailable": (
        "Signing keys unavailable",
        "The gateway could not fetch identity's signing keys to check the token.",
        "Retry in a few seconds.",
    ),
    "registry_unavailable": (
        "App registry unavailable",
        "The gateway could not look the app up in identity's registry.",
        "Retry in a few seconds.",
    ),
    "identity_unavailable": (
        "Identity unavailable",
        "The identity service could not be reached to complete the request.",
        "Retry in a few seconds.",
    ),
    "edge_untrusted": (
        "Untrusted edge headers",
        "The gateway runs behind Kong and the request did not come through Kong with its shared secret.",
        "Call the API through the bank's API gateway (Kong), not the gateway directly.",
    ),
    "edge_unavailable": (
        "Edge store unavailable",
        "The gateway's shared store (rate limits, nonces, idempotency) cannot be reached.",
        "Retry in a few seconds.",
    ),
    "edge_misconfigured": (
        "Edge misconfigured",
        "The API gateway's configuration is incomplete.",
        "Nothing the caller can do: report the `trace_id` to the bank's operations team.",
    ),
    # --- partner signatures ---------------------------------------------------------------------
    "signature_missing": (
        "Signature header missing",
        "A partner request needs `X-Lattice-Partner`, `X-Lattice-Key-Id`, `X-Lattice-Timestamp`, "
        "`X-Lattice-Nonce` and `X-Lattice-Signature`; `detail` names the one missing.",
        "Sign every request as docs/partner-signing.md shows (or use `tools/partner_client.py`).",
    ),
    "signature_malformed": (
        "Signature header malformed",
        "A signature header has the wrong format (timestamp not an integer, nonce not 16-64 hex, "
        "signature not base64).",
        "Follow the header formats in docs/partner-signing.md.",
    ),
    "signature_invalid": (
        "Signature does not match",
        "The HMAC the gateway computed over the canonical request differs from `X-Lattice-Signature`.",
        "Compare your string to sign with the guide's, line by line: method, path, canonical query "
        "(sorted, percent-encoded), timestamp, nonce, partner, key id and the body's SHA-256 hex.",
    ),
    "signature_expired": (
        "Signature too old or in the future",
        "`X-Lattice-Timestamp` is more than 300 seconds from the gateway's clock.",
        "Synchronise your clock (NTP) and sign each request when you send it.",
    ),
    "nonce_reused": (
        "Nonce already used",
        "Each `X-Lattice-Nonce` is accepted once within the signature window.",
        "Send a new random nonce with every request, retries included.",
    ),
    "unknown_system": (
        "Unknown system",
        "The core banking signature names a system id Lattice does not know.",
        "Use the system id and key configured in `CORE_BANKING_KEYS`.",
    ),
    "bad_signature": (
        "Link signature not valid",
        "The link code was altered or not signed by the bank; the click goes to the safe landing.",
        "Create links through `POST /v1/partner/links` and use them unchanged.",
    ),
    "expired": (
        "Expired",
        "The link (or object) is past its expiry.",
        "Create a new one.",
    ),
    "receipt_replayed": (
        "Receipt already received",
        "A provider receipt's `webhook-id` is accepted once.",
        "Nothing to do: the first receipt was recorded.",
    ),
}
