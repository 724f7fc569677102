"""The one way a policy says no: an HTTP status, a stable code and a detail safe to show a caller."""

from __future__ import annotations


class PolicyDenied(Exception):
    """A policy refused the request; hosts answer it as an RFC 9457 problem."""

    def __init__(self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def unauthenticated(code: str, detail: str) -> PolicyDenied:
    """A 401 with a `WWW-Authenticate` challenge."""
    return PolicyDenied(401, code, detail, headers={"WWW-Authenticate": 'Bearer realm="lattice"'})
