"""What every problem `code` the gateway can answer means and how a caller fixes it.

Each code's `type` URI (`<PROBLEM_BASE_URL>/problems/<code>`) resolves to a page built from this
catalogue (`gateway/routes/problem_types.py`). A code is described by its own entry or, for the
regular families (`invalid_<field>`, `<object>_not_found`, `<object>_exists`, ...), by its family's
entry. `tests/gateway/test_problem_types.py` scans the source for every code raised anywhere and
fails when one is not described here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemType:
    code: str
    title: str
    meaning: str
    fix: str


_CODE = re.compile(r"[a-z][a-z0-9_]{1,63}")

# code: (title, what it means, what the caller does about it)
_ENTRIES: dict[str, tuple[str, str, str]] = {
    # --- the edge: any route -------------------------------------------------------------------
    "validation_failed": (
        "The request is not valid",
        "A path, query or body field is missing, of the wrong type or out of range. `errors` lists "
        "each one with its location (`loc`) and a message.",
        "Correct the fields named in `errors` and send the request again; nothing was written.",
    ),
    "unsupported_media_type": (
        "The body is not JSON",
        "The route reads a JSON body, and the request's `Content-Type` is not `application/json` (or "
        "`application/<something>+json`). Only the OAuth token endpoints (`POST /v1/ops/token`, "
        "`POST /v1/apps/{app_id}/token`) also take `application/x-www-form-urlencoded`.",
        "Send the body as JSON with `Content-Type: application/json`.",
    ),
    "body_too_large": (
        "The body is too large",
        "The request body is larger than the gateway accepts (`MAX_BODY_BYTES`, 1 MiB by default).",
        "Send a smaller body (split a batch into several requests).",
    ),
    "headers_too_large": (
        "Too many or too large headers",
        "The request has more than 64 headers or more than 16 KiB of them.",
        "Drop the headers the API does not need (cookies of other sites, tracing baggage).",
    ),
    "personal_data_not_allowed": (
        "A personal number in the request",
        "A mobile, resident ID or card number was found in the request (the problem's `in` and "
        "`pointer` name the field, never the value). Lattice takes no personal numbers at all.",
        "Address customers by their ids (partners: by pairwise id) and remove the number from the "
        "field named by `pointer`.",
    ),
    "not_found": (
        "No such route or object",
        "No route answers this path, or the object does not exist or belongs to another owner "
        "(objects of another customer, app, partner or branch answer like unknown ones).",
        "Check the path against the API reference at `/docs` and the ids you send.",
    ),
    "method_not_allowed": (
        "Method not allowed",
        "The path exists but does not take this HTTP method.",
        "Use one of the methods in the `Allow` header (see `/docs`).",
    ),
    "http_error": (
        "The request could not be served",
        "The HTTP layer refused the request before a route ran.",
        "Check the method, path and headers against `/docs`; quote the `trace_id` to the bank if it "
        "persists.",
    ),
    "internal_error": (
        "Internal error",
        "Something failed inside Lattice; nothing about the request is wrong as far as it knows.",
        "Retry later; report the `trace_id` to the bank's operations team if it persists.",
    ),
    "downstream_error": (
        "A service failed",
        "A service behind the gateway failed unexpectedly.",
        "Retry later; report the `trace_id` to the bank's operations team if it persists.",
    ),
    "rate_limited": (
        "Too many requests",
        "This caller used its quota for the route group (`RateLimit-*` headers show the limit and "
        "what is left).",
        "Wait the seconds in `Retry-After` and send fewer requests per minute.",
    ),
    "database_busy": (
        "Busy, retry",
        "The service could not get its database in time; nothing was written.",
        "Retry after `Retry-After` (with the same `Idempotency-Key` where the route takes one).",
    ),
    "unknown_service": (
        "No such service",
        "The service named in the request is not one of Lattice's five.",
        "Use identity, benefits, content, reach or conversion.",
    ),
    # --- idempotency -----------------------------------------------------------------------------
    "idempotency_key_invalid": (
        "Idempotency-Key is not valid",
        "The `Idempotency-Key` header is empty, too long or has characters other than letters, "
        "digits, `-`, `_`, `.` and `:`.",
        "Send a unique key of 8-128 such characters per operation (a UUID is fine).",
    ),
    "idempotency_key_reused": (
        "Idempotency-Key reused with another body",
        "A request with this key and a different body was answered before (keys live 24 hours).",
        "Use a new key for a new operation; resend the very same body to get the first answer again.",
    ),
    "idempotency_in_flight": (
        "The same request is still running",
        "A request with this `Idempotency-Key` is being processed.",
        "Wait `Retry-After` seconds and resend with the same key: you get its answer.",
    ),
    "idempotency_replay": (
        "Replay of an earlier answer",
        "This request repeats an earlier one with the same `Idempotency-Key`.",
        "Nothing to fix: the first answer is replayed (`Idempotent-Replayed: true`).",
    ),
    "invalid_idempotency_key": (
        "Idempotency-Key is not valid",
        "The idempotency key the service received is missing or malformed.",
        "Send a unique `Idempotency-Key` of 8-128 letters, digits, `-`, `_`, `.` or `:`.",
    ),
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
    # --- apps and sign-in ---------------------------------------------------------------------
    "app_not_found": (
        "No such app",
        "The `{app_id}` in the path is not an app in identity's registry (`lattice-*` ids are "
        "reserved for audiences that are not apps).",
        "Use a registered app id (`mbank`, `life`, `wealth`, ... as the bank registered them).",
    ),
    "wrong_app": (
        "Another app's object",
        "The object belongs to another app than the route's `{app_id}`.",
        "Call the route of the app the object belongs to.",
    ),
    "assertion_required": (
        "Assertion required",
        "The JWT bearer grant needs an `assertion`: a JWT the app backend signed for its user.",
        "Send `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an `assertion` (README, "
        "app sign-in quickstart).",
    ),
    "invalid_assertion": (
        "The assertion is not valid",
        "The app's sign-in assertion failed a check: signature, `iss`/`sub`/`aud`, `exp` or `jti`.",
        "Build it as the README's app quickstart shows: HS256 with the app's client secret, `iss` = the "
        "app id, `aud` = `lattice-identity`, `sub` = the app user id, `acr` 1-3, `exp` at most 300 s "
        "after `iat`, a fresh `jti`.",
    ),
    "assertion_replayed": (
        "Assertion already used",
        "Every assertion's `jti` is accepted once.",
        "Sign a new assertion with a new `jti` for every sign-in.",
    ),
    "refresh_token_required": (
        "Refresh token required",
        "The refresh grant needs a `refresh_token`.",
        "Send the refresh token from the last token response.",
    ),
    "refresh_token_expired": (
        "Refresh token expired",
        "The refresh token is past its lifetime.",
        "Sign the customer in again.",
    ),
    "refresh_token_reused": (
        "Refresh token reused",
        "A refresh token was used twice: its whole family is revoked, as a stolen token would be.",
        "Sign the customer in again; always keep only the newest refresh token.",
    ),
    "invalid_refresh_token": (
        "Refresh token not valid",
        "The refresh token is unknown or malformed.",
        "Send the refresh token from the last token response unchanged, or sign in again.",
    ),
    "invalid_client": (
        "Client authentication failed",
        "The client id or secret (or the app's assertion key) is wrong.",
        "Check the credentials the bank issued; after repeated failures the client is locked a while.",
    ),
    "invalid_request": (
        "The request is not valid",
        "A required parameter is missing or malformed.",
        "Read `detail`, correct the request and send it again.",
    ),
    "scope_not_allowed": (
        "Scope not allowed",
        "The requested scope is more than the client may get.",
        "Request only the scopes the bank granted your client.",
    ),
    "ticket_expired": (
        "Ticket expired",
        "Cross-app tickets live about a minute.",
        "Issue a new ticket in the source app and redeem it at once.",
    ),
    "ticket_already_redeemed": (
        "Ticket already used",
        "A cross-app ticket is redeemed once.",
        "Issue a new ticket for another sign-in.",
    ),
    "ticket_audience_mismatch": (
        "Ticket for another app",
        "The ticket was issued for another target app.",
        "Redeem the ticket at the app it names, or issue one for this app.",
    ),
    "same_app": (
        "Same app",
        "A cross-app ticket must name another app than the one issuing it.",
        "Name the target app in `audience`.",
    ),
    "reserved_app_id": (
        "Reserved app id",
        "`lattice-*` ids are reserved for Lattice's own audiences.",
        "Choose another app id.",
    ),
    "weak_secret": (
        "Secret too weak",
        "The secret is shorter or simpler than required.",
        "Use a random secret of at least 32 bytes.",
    ),
    "fixed_secret_not_allowed": (
        "Fixed secret not allowed",
        "Outside development, secrets are generated by Lattice, not chosen by the caller.",
        "Omit the secret; store the one the answer returns.",
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
    # --- roles and scope ------------------------------------------------------------------------
    "role_required": (
        "Role required",
        "The operator's role is below what the action needs (viewer < operator < reviewer < admin).",
        "Ask an admin for the role, or have an operator with it do the action.",
    ),
    "insufficient_role": (
        "Role too low",
        "The operator's role is below what the action needs.",
        "Ask an admin for the role, or have an operator with it do the action.",
    ),
    "viewer_required": (
        "Operator required",
        "The action needs at least an operator's viewer role.",
        "Sign in as an operator.",
    ),
    "head_office_only": (
        "Head office only",
        "Only head-office operators may do this; branch operators are limited to their branch.",
        "Ask a head-office operator.",
    ),
    "branch_scope": (
        "Outside your branch",
        "A branch operator acts only on their branch's objects.",
        "Act on your branch's objects, or ask head office.",
    ),
    "outside_branch_scope": (
        "Outside your branch",
        "The object belongs to another branch than the operator's.",
        "Act on your branch's objects, or ask head office.",
    ),
    "own_work": (
        "Own work",
        "Nobody approves a version they wrote or edited.",
        "Ask another reviewer to approve it.",
    ),
    "self_approval": (
        "Self approval",
        "Nobody approves their own request.",
        "Ask another reviewer to approve it.",
    ),
    "actor_required": (
        "Actor required",
        "The call must name the operator acting.",
        "Call with an operator token.",
    ),
    "partner_required": (
        "Partner required",
        "The call must be made by a partner.",
        "Sign the request as a partner.",
    ),
    "customer_required": (
        "Customer required",
        "The call must be made for a signed-in customer.",
        "Use a customer token of the app.",
    ),
    "reason_required": (
        "Reason required",
        "The action is audited and needs a reason.",
        "Send a `reason` (at most 500 characters, no personal numbers).",
    ),
    "reason_too_long": (
        "Reason too long",
        "The reason is longer than 500 characters.",
        "Shorten the reason.",
    ),
    # --- customers, consent, bindings -----------------------------------------------------------
    "consent_required": (
        "Consent required",
        "The action needs the customer's recorded consent for this purpose.",
        "Ask the customer for consent in the app first.",
    ),
    "consent_withdrawn": (
        "Consent withdrawn",
        "The customer withdrew the consent this action relies on.",
        "Stop the action; ask for consent again if the customer wishes.",
    ),
    "account_linked_elsewhere": (
        "Linked to another customer",
        "This partner user is linked to another customer already.",
        "Use the existing link, or have it removed first.",
    ),
    "binding_expired": (
        "Binding expired",
        "The binding request was not confirmed in time.",
        "Start a new binding.",
    ),
    "binding_not_pending": (
        "Binding not pending",
        "The binding was confirmed, declined or expired already.",
        "Read the binding's state; start a new one if needed.",
    ),
    "already_confirmed": (
        "Already confirmed",
        "The object was confirmed already.",
        "Nothing to do; read its state.",
    ),
    "not_confirmed": (
        "Not confirmed",
        "The object must be confirmed first.",
        "Confirm it, then retry.",
    ),
    "context_required": (
        "Context required",
        "The call needs the app and edition context it is made in.",
        "Send the documented context fields.",
    ),
    "context_mismatch": (
        "Context mismatch",
        "The context sent does not match the object's.",
        "Send the context the object was created with.",
    ),
    # --- benefits -------------------------------------------------------------------------------
    "budget_exhausted": (
        "Budget exhausted",
        "The benefit's budget cannot cover this grant or redemption; nothing was spent.",
        "Nothing to retry; the funder may top the budget up.",
    ),
    "insufficient_balance": (
        "Insufficient balance",
        "The wallet or grant holds less than asked.",
        "Ask for at most the balance.",
    ),
    "not_eligible": (
        "Not eligible",
        "The benefit is not offered to this customer here (app, edition, channel or assurance level).",
        "Offer the customer benefits listed for this app; `detail` says which rule refused.",
    ),
    "not_usable_here": (
        "Not usable here",
        "The benefit may not be used in this scene or by this partner.",
        "Use it where its usable scopes allow.",
    ),
    "not_stackable": (
        "Not stackable",
        "The benefit cannot be combined with another in the same order.",
        "Redeem one benefit per order.",
    ),
    "nothing_to_redeem": (
        "Nothing to redeem",
        "The grant has nothing left to redeem.",
        "Read the wallet; the grant is used up.",
    ),
    "order_amount_required": (
        "Order amount required",
        "The benefit's value depends on the order amount.",
        "Send `order_amount` in fen.",
    ),
    "amount_required": (
        "Amount required",
        "The call needs an amount.",
        "Send a positive amount in fen.",
    ),
    "grant_in_use": (
        "Grant in use",
        "The grant has an open hold.",
        "Confirm or release the hold first.",
    ),
    "grant_not_active": (
        "Grant not active",
        "The grant is expired, used or revoked.",
        "Read the wallet for active grants.",
    ),
    "hold_expired": (
        "Hold expired",
        "The redemption hold expired before it was confirmed; nothing was spent.",
        "Redeem again.",
    ),
    "hold_cancelled": (
        "Hold cancelled",
        "The redemption hold was cancelled; nothing was spent.",
        "Redeem again if the order goes ahead.",
    ),
    "refund_exceeds_redemption": (
        "Refund too large",
        "A refund cannot exceed what was redeemed.",
        "Refund at most the redeemed amount.",
    ),
    "no_end_date": (
        "No end date",
        "The benefit needs an end date for this action.",
        "Set `valid_to`.",
    ),
    "operation_in_progress": (
        "Operation in progress",
        "The same operation is running.",
        "Retry after a moment.",
    ),
    # --- content --------------------------------------------------------------------------------
    "compliance_violation": (
        "Compliance rules refuse the content",
        "The text breaks the bank's compliance rules; `violations` lists each rule and where.",
        "Edit the text so that no rule in `violations` applies, then submit again.",
    ),
    "content_unavailable": (
        "Content unavailable",
        "The content is not published for this app, edition or locale.",
        "Ask for a published item and an edition and locale it has.",
    ),
    "duplicate_locale": (
        "Duplicate locale",
        "The same locale is given twice.",
        "Give each locale once.",
    ),
    "duplicate_variant": (
        "Duplicate variant",
        "The same edition variant is given twice.",
        "Give each edition once.",
    ),
    "item_archived": (
        "Item archived",
        "The item is archived and cannot be changed or placed.",
        "Create a new item.",
    ),
    "item_not_published": (
        "Item not published",
        "Only published items can be placed or served.",
        "Have the item reviewed and published first.",
    ),
    "locale_required": (
        "Locale required",
        "The text needs at least one locale.",
        "Give `zh-Hans` (and other locales as needed).",
    ),
    "missing_variable": (
        "Template variable missing",
        "The message template uses a variable the request does not give.",
        "Send every variable the template names.",
    ),
    "not_a_draft": (
        "Not a draft",
        "Only drafts can be edited or submitted.",
        "Create a new draft from the published version.",
    ),
    "not_editable": (
        "Not editable",
        "The object is in a state that cannot be edited.",
        "Read its state; create a new version instead.",
    ),
    "nothing_to_review": (
        "Nothing to review",
        "The object is not waiting for review.",
        "Submit it for review first.",
    ),
    "placement_removed": (
        "Placement removed",
        "The placement was removed.",
        "Create a new placement.",
    ),
    "slot_immutable": (
        "Slot cannot change",
        "A slot's identity fields cannot change once created.",
        "Create a new slot.",
    ),
    "standard_variant_required": (
        "Standard variant required",
        "Every item needs a variant for the standard edition.",
        "Add a `standard` edition variant.",
    ),
    "too_many_media": (
        "Too many media",
        "The item has more media than allowed.",
        "Remove media.",
    ),
    "too_many_variants": (
        "Too many variants",
        "The item has more variants than allowed.",
        "Remove variants.",
    ),
    "variant_not_available": (
        "Variant not available",
        "The item has no variant for this edition.",
        "Ask for an edition the item has, or add the variant.",
    ),
    "version_changed": (
        "Changed meanwhile",
        "Someone changed the object since you read it.",
        "Read it again and reapply your change.",
    ),
    "version_mismatch": (
        "Version mismatch",
        "The version you named is not the current one.",
        "Read the current version and retry with it.",
    ),
    # --- reach ----------------------------------------------------------------------------------
    "events_unavailable": (
        "Events not stored",
        "The behaviour events could not be stored; none were accepted.",
        "Retry after `Retry-After` with the same events (their ids deduplicate).",
    ),
    "personal_data_in_event": (
        "Personal data in an event",
        "An event attribute carries personal data.",
        "Send ids and categories only.",
    ),
    "strategy_not_editable": (
        "Strategy not editable",
        "A strategy under review or live cannot be edited.",
        "Pause it or create a new version.",
    ),
    "not_live": (
        "Not live",
        "The object is not live.",
        "Activate it first.",
    ),
    "not_pending": (
        "Not pending",
        "The object is not waiting for a decision.",
        "Read its state.",
    ),
    "not_rollbackable": (
        "Cannot roll back",
        "This change cannot be rolled back.",
        "Apply a new change instead.",
    ),
    "proposal_not_pending": (
        "Proposal not pending",
        "The proposal was decided already.",
        "Read its state.",
    ),
    "nothing_to_update": (
        "Nothing to update",
        "The request changes no field.",
        "Send at least one field to change.",
    ),
    "not_dead_lettered": (
        "Not dead-lettered",
        "Only dead-lettered deliveries can be resent.",
        "Pick a dead-lettered delivery.",
    ),
    # --- conversion -----------------------------------------------------------------------------
    "campaign_inactive": (
        "Campaign inactive",
        "The campaign is paused or ended.",
        "Use an active campaign.",
    ),
    "campaign_not_approved": (
        "Campaign not approved",
        "The campaign was not approved by a reviewer yet.",
        "Wait for approval.",
    ),
    "milestone_id_conflict": (
        "Milestone id conflict",
        "The same milestone id appears with different content.",
        "Give each milestone its own id.",
    ),
    "milestones_unavailable": (
        "Milestones not stored",
        "The milestones could not be stored; none were accepted.",
        "Retry after `Retry-After` with the same batch.",
    ),
    "postback_url_unresolvable": (
        "Postback URL does not resolve",
        "The postback host has no public address.",
        "Register a public https URL.",
    ),
    "trace_not_found": (
        "No such trace",
        "No spans with this trace id are stored here.",
        "Check the trace id (32 hex characters); spans of old runs may have been removed.",
    ),
    "traces_not_local": (
        "Traces are in the collector",
        "Spans go to the configured OpenTelemetry collector.",
        "Look the trace up in the collector (Jaeger).",
    ),
}

# the status names a service's gRPC error maps to when it carries no reason of its own
for _name, _text in {
    "invalid_argument": "The request was refused as not valid by a service.",
    "already_exists": "The object exists already.",
    "failed_precondition": "The object is not in a state that allows this.",
    "aborted": "The request conflicted with another one.",
    "permission_denied": "The caller may not do this.",
    "resource_exhausted": "A limit was reached.",
    "unavailable": "A service is unavailable.",
    "deadline_exceeded": "A service did not answer within the request's deadline.",
    "cancelled": "The request was cancelled before a service answered.",
}.items():
    _ENTRIES.setdefault(
        _name,
        (
            _name.replace("_", " ").capitalize(),
            _text,
            "Read `detail`; retry later if it says to, and quote the `trace_id` to the bank otherwise.",
        ),
    )

# families: (pattern, title, meaning, fix); "{x}" is the part the pattern matched
_FAMILIES: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_not_found"),
        "No such {x}",
        "The {x} does not exist, or belongs to another customer, app, partner or branch (another's "
        "objects answer like unknown ones).",
        "Check the {x}'s id; list the ones you can see.",
    ),
    (
        re.compile(r"invalid_(?P<x>[a-z0-9_]+)"),
        "Invalid {x}",
        "The request's {x} is not valid; `detail` says what is expected. Nothing was written.",
        "Correct the {x} as `detail` says and send the request again.",
    ),
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_exists"),
        "{x} exists already",
        "A {x} with this id exists already.",
        "Choose another id, or read the existing {x}.",
    ),
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_invalid"),
        "Invalid {x}",
        "The {x} is not an acceptable URL (https, no credentials, at most 500 characters).",
        "Send an https URL (or a bank app deep link where the field allows one).",
    ),
    (
        re.compile(r"(?P<x>[a-z0-9_]+)_forbidden"),
        "{x} not allowed",
        "The {x} names a host that is not allowed (private addresses, or outside the bank's domains "
        "for landings).",
        "Use a public host (for landings: one of the bank's domains).",
    ),
    (
        re.compile(r"benefit_(?P<x>[a-z_]+)"),
        "Benefit {x}",
        "The benefit is {x}; only active benefits can be granted or redeemed.",
        "Use an active benefit, or have an operator reactivate this one.",
    ),
    (
        re.compile(r"cannot_(?P<x>[a-z_]+)"),
        "Cannot {x}",
        "The object's current status does not allow {x}.",
        "Read its status; only some states allow {x}.",
    ),
)


def describe(code: str) -> ProblemType | None:
    """The page content for a code, or None when Lattice never answers it."""
    if not _CODE.fullmatch(code):
        return None
    entry = _ENTRIES.get(code)
    if entry is not None:
        return ProblemType(code, *entry)
    for pattern, title, meaning, fix in _FAMILIES:
        match = pattern.fullmatch(code)
        if match:
            x = match.group("x").replace("_", " ")
            return ProblemType(code, title.format(x=x).capitalize(), meaning.format(x=x), fix.format(x=x))
    return None


def documented_codes() -> list[str]:
    """The codes with their own entry (families are described by pattern)."""
    return sorted(_ENTRIES)


def families() -> list[str]:
    """The family patterns, as `invalid_<x>`-style names."""
    return [
        pattern.pattern.replace("(?P<x>[a-z0-9_]+)", "<x>").replace("(?P<x>[a-z_]+)", "<x>")
        for pattern, *_ in _FAMILIES
    ]
