"""App backends' signed assertions (JWT, HS256 with the app's client secret), each usable once.

Claims: iss = the app id, aud = "lattice-identity", iat, exp (at most 300 s after iat), jti; for a
sign-in also sub = the app-local user id and acr = the assurance level the app established (1-3).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jwt
from sqlalchemy import Insert, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from services.identity.models import App, AppCredential, UsedAssertion
from services.identity.reads import OneStatementRead
from services.runtime.clock import utcnow
from services.runtime.errors import Unauthenticated
from services.runtime.retention import Rule

ASSERTION_AUDIENCE = "lattice-identity"
MAX_LIFETIME_S = 300
APP_USER_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")

# The secret a registered app signs its assertions with: ONE statement, no session.
_APP_SECRET = OneStatementRead(
    select(col(AppCredential.secret))
    .join(App, col(App.app_id) == col(AppCredential.app_id))
    .where(col(AppCredential.app_id) == bindparam("app_id"))
)


def verify_assertion(*, engine: Engine, app_id: str, assertion: str, require_user: bool) -> dict[str, Any]:
    """Check signature, issuer, audience, lifetime and claims of an app's assertion."""
    found = _APP_SECRET.rows(engine, app_id=app_id)
    if not found:
        raise Unauthenticated("invalid_client", "unknown app")
    secret: bytes = found[0][0]
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
    """Remember the assertion's jti until it expires; a second use is rejected.

    ONE statement: the jti is inserted, or takes over a row of the same jti that has expired (as if
    retention had already deleted it); a row still valid is left as it is, and no row written means
    a replay. Expired rows of other assertions are deleted by retention (`USED_ASSERTION_RETENTION`)."""
    expires = datetime.fromtimestamp(int(claims["exp"]) + 5, tz=UTC)
    statement = _claim_jti(session.get_bind().dialect.name)
    values = {"app_id": app_id, "jti": str(claims["jti"]), "expires_at": expires, "now": utcnow()}
    # RETURNING, not rowcount: psycopg reports no row count (-1) for an upsert
    if session.connection().execute(statement, values).first() is None:
        raise Unauthenticated("assertion_replayed", "this assertion was already used")


@cache
def _claim_jti(dialect: str) -> Insert:
    """The upsert of `consume_assertion`, built once per dialect (its values bound at each call)."""
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(UsedAssertion)
    table = UsedAssertion.__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
    return (
        upsert.values(app_id=bindparam("app_id"), jti=bindparam("jti"), expires_at=bindparam("expires_at"))
        .on_conflict_do_update(
            index_elements=[table.c.app_id, table.c.jti],
            set_={"expires_at": upsert.excluded.expires_at},
            where=table.c.expires_at < bindparam("now", type_=table.c.expires_at.type),
        )
        .returning(table.c.jti)
    )


# Assertions past their expiry (and its 5 s of leeway) can no longer be replayed: retention deletes them.
USED_ASSERTION_RETENTION = Rule(
    "used_assertion",
    UsedAssertion,
    (UsedAssertion.app_id, UsedAssertion.jti),
    lambda now: col(UsedAssertion.expires_at) < now,
)
