"""The one way a policy says no: an HTTP status, a stable code and a detail safe to show a caller."""

from __future__ import annotations

from typing import Any


def problem_type(code: str, base_url: str = "") -> str:
    """A problem's `type` URI: `/problems/<code>` on Lattice itself, absolute when `PROBLEM_BASE_URL`
    names the public address (e.g. `https://api.bank.example`); the page explains the code and its fix."""
    return f"{base_url.rstrip('/')}/problems/{code}"


class PolicyDenied(Exception):
    """A policy refused the request; hosts answer it as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        # further members of the problem document (e.g. the canonical request a partner should have signed)
        self.extra = extra or {}


def unauthenticated(code: str, detail: str) -> PolicyDenied:
    """A 401 with a `WWW-Authenticate` challenge."""
    return PolicyDenied(401, code, detail, headers={"WWW-Authenticate": 'Bearer realm="lattice"'})
