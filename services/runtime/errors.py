"""Domain errors raised by business rules; transports map them to gRPC status codes and problems."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. `reason` is a stable machine-readable code such as `budget_exhausted`."""

    kind = "failed_precondition"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason.replace("_", " ")


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
