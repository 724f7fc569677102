"""The edge (any route) and idempotency: problems a request meets before or around its route."""

ENTRIES: dict[str, tuple[str, str, str]] = {
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
}
