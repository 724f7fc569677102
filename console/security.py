"""CSRF (synchroniser token in the session), the Content-Security-Policy and the other response headers."""

from __future__ import annotations

import hmac

from fastapi import Request

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# self only: no inline script or style, no eval, no framing, forms post only to the console
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


async def csrf_protect(request: Request) -> None:
    """Every POST/PUT/PATCH/DELETE carries the session's token in the form or the X-CSRF-Token header."""
    if request.method in SAFE_METHODS:
        return
    expected = request.state.session.csrf_token
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            try:
                form = await request.form()
            except Exception as exc:  # an unreadable body is refused like a missing token
                raise CsrfRefused() from exc
            value = form.get(CSRF_FIELD, "")
            sent = value if isinstance(value, str) else ""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def apply_security_headers(request: Request, headers: dict[str, str] | object) -> None:
    """Set the CSP and the other headers on a response (pages are never cached: they hold data)."""
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value  # type: ignore[index]  # Starlette's MutableHeaders supports item assignment
    if not request.url.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"  # type: ignore[index]  # Starlette's MutableHeaders supports item assignment
    if request.url.scheme == "https":
        headers["Strict-Transport-Security"] = "max-age=31536000"  # type: ignore[index]  # Starlette's MutableHeaders supports item assignment
