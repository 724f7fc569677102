"""App backends' signed assertions (JWT, HS256 with the app's client secret), each usable once.

Claims: iss = the app id, aud = "lattice-identity", iat, exp (at most 300 s after iat), jti; for a
sign-in also sub = the app-local user id and acr = the assurance level the app established (1-3).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from services.identity.models import UsedAssertion
from services.identity.registry import get_app
from services.runtime.clock import utcnow
from services.runtime.errors import NotFound, Unauthenticated

ASSERTION_AUDIENCE = "lattice-identity"
MAX_LIFETIME_S = 300
APP_USER_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


def verify_assertion(*, engine: Engine, app_id: str, assertion: str, require_user: bool) -> dict[str, Any]:
    """Check signature, issuer, audience, lifetime and claims of an app's assertion."""
    try:
        _, secret = get_app(engine=engine, app_id=app_id)
    except NotFound as exc:
        raise Unauthenticated("invalid_client", "unknown app") from exc
    try:
        claims = jwt.decode(
            assertion,
            secret,
            algorithms=["HS256"],
            audience=ASSERTION_AUDIENCE,
            issuer=app_id,
            leeway=5,
            options={"require": ["exp", "iat", "jti", "iss", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("invalid_assertion", "the assertion is not valid for this app") from exc
    if int(claims["exp"]) - int(claims["iat"]) > MAX_LIFETIME_S or len(str(claims["jti"])) > 80:
        raise Unauthenticated("invalid_assertion", f"assertions live at most {MAX_LIFETIME_S} s")
    if require_user:
        if not APP_USER_ID.match(str(claims.get("sub", ""))):
            raise Unauthenticated("invalid_assertion", "sub must be the app user id (1-64 characters)")
        if str(claims.get("acr", "1")) not in ("1", "2", "3"):
            raise Unauthenticated("invalid_assertion", "acr must be 1, 2 or 3")
    return claims


def consume_assertion(session: Session, *, app_id: str, claims: dict[str, Any]) -> None:
    """Remember the assertion's jti until it expires; a second use is rejected."""
    now = utcnow()
    session.exec(delete(UsedAssertion).where(col(UsedAssertion.expires_at) < now))
    if session.get(UsedAssertion, (app_id, str(claims["jti"]))) is not None:
        raise Unauthenticated("assertion_replayed", "this assertion was already used")
    expires = datetime.fromtimestamp(int(claims["exp"]) + 5, tz=UTC)
    session.add(UsedAssertion(app_id=app_id, jti=str(claims["jti"]), expires_at=expires))
