"""Domain errors raised by business rules; transports map them to gRPC status codes and problems."""

from __future__ import annotations

from google.protobuf.message import Message


class DomainError(Exception):
    """A rule said no. `reason` is a stable machine-readable code such as `budget_exhausted`.

    `details`, a protobuf message, travels with the gRPC status as a structured error detail
    (google.rpc.Status details), so a caller reads what was wrong instead of working it out again.
    """

    kind = "failed_precondition"

    def __init__(self, reason: str, detail: str = "", *, details: Message | None = None) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason.replace("_", " ")
        self.details = details


class InvalidInput(DomainError):
    kind = "invalid_argument"


class NotFound(DomainError):
    kind = "not_found"


class AlreadyExists(DomainError):
    kind = "already_exists"


class Conflict(DomainError):
    """The request contradicts the current state (e.g. confirming an expired hold)."""

    kind = "failed_precondition"


class Rejected(DomainError):
    """A business rule rejects the request (budget exhausted, limit exceeded, not eligible...)."""

    kind = "failed_precondition"


class Forbidden(DomainError):
    kind = "permission_denied"


class Unauthenticated(DomainError):
    kind = "unauthenticated"


class Unavailable(DomainError):
    """Retryable: a lock or busy timeout, a dependency that is down."""

    kind = "unavailable"


class RateLimited(DomainError):
    kind = "resource_exhausted"
