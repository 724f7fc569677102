"""How an app backend signs what it asserts to identity (reference code for apps, the demo and tests)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from services.identity.assertions import ASSERTION_AUDIENCE


def app_assertion(
    *,
    app_id: str,
    client_secret: str,
    app_user_id: str = "",
    assurance_level: int = 1,
    lifetime_s: int = 120,
    **claims: Any,
) -> str:
    """An HS256 JWT: iss = app, aud lattice-identity, sub = app user id (sign-in) and acr, single-use jti."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": app_id,
        "aud": ASSERTION_AUDIENCE,
        "iat": now,
        "exp": now + lifetime_s,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    if app_user_id:
        body["sub"] = app_user_id
        body["acr"] = str(assurance_level)
    return jwt.encode(body, client_secret, algorithm="HS256")
