"""App sign-in, access and refresh tokens, refresh rotation with reuse detection, sign-out everywhere."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from lattice.identity.v1 import events_pb2
from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from services.identity.assertions import consume_assertion, verify_assertion
from services.identity.customers import (
    apply_update,
    contact_update_from_claims,
    new_customer_id,
    update_account_holder,
)
from services.identity.keys import TokenSigner
from services.identity.models import AppAccount, Customer, RecognitionTicket, RefreshToken, SessionFamily
from services.identity.rows import insert_rows
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import transaction
from services.runtime.errors import Unauthenticated
from services.runtime.outbox import record_event

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)
APP_SCOPES = ("profile", "benefits", "content", "inbox", "events", "links")


@dataclass
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scopes: list[str]
    app_user_id: str
    assurance_level: int
    new_account: bool = field(default=False)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_tokens(
    session: Session, *, signer: TokenSigner, family: SessionFamily, new: bool = False
) -> IssuedTokens:
    """A new access token and refresh token in `family` (written in the caller's transaction; the
    family's row too when it is `new`)."""
    now = utcnow()
    jti = uuid.uuid4().hex
    claims: dict[str, object] = {
        "aud": family.app_id,
        "sub": family.customer_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TTL).timestamp()),
        "jti": jti,
        "scope": " ".join(family.scopes),
        "acr": str(family.assurance_level),
        "sid": family.family_id,
    }
    if family.actor_app_id:
        claims["act"] = {"sub": family.actor_app_id}
    refresh = secrets.token_urlsafe(32)
    refresh_row = RefreshToken(
        token_hash=token_hash(refresh),
        family_id=family.family_id,
        access_jti=jti,
        expires_at=now + REFRESH_TTL,
    )
    insert_rows(session, *((family, refresh_row) if new else (refresh_row,)))
    return IssuedTokens(
        access_token=signer.sign(claims, kind="customer", session=session),
        refresh_token=refresh,
        expires_in=int(ACCESS_TTL.total_seconds()),
        scopes=list(family.scopes),
        app_user_id=family.app_user_id,
        assurance_level=family.assurance_level,
    )


def new_family(
    *, customer_id: str, app_id: str, app_user_id: str, level: int, scopes: list[str], actor: str = ""
) -> SessionFamily:
    return SessionFamily(
        family_id="sid_" + uuid.uuid4().hex,
        customer_id=customer_id,
        app_id=app_id,
        app_user_id=app_user_id,
        assurance_level=level,
        scopes=scopes,
        actor_app_id=actor,
    )


def sign_in(
    *, engine: Engine, signer: TokenSigner, pepper: str, app_id: str, assertion: str, click_id: str = ""
) -> IssuedTokens:
    """Exchange an app backend's assertion for tokens; an unknown app account gets a new customer."""
    claims = verify_assertion(engine=engine, app_id=app_id, assertion=assertion, require_user=True)
    contact = contact_update_from_claims(claims)
    level = int(claims.get("acr", "1"))
    app_user_id = str(claims["sub"])
    now = utcnow()
    with transaction(engine) as session:
        consume_assertion(session, app_id=app_id, claims=claims)
        customer_id = update_account_holder(
            session,
            app_id=app_id,
            app_user_id=app_user_id,
            update=contact,
            pepper=pepper,
            assurance_level=level,
        )
        new_account = customer_id is None
        if customer_id is None:
            customer = Customer(customer_id=new_customer_id(), editions=["standard"])
            apply_update(customer, contact, pepper=pepper, assurance_level=level)
            customer_id = customer.customer_id
            record_event(
                session,
                "identity.app_account.linked",
                events_pb2.AppAccountLinked(
                    customer_id=customer_id,
                    app_id=app_id,
                    new_customer=True,
                    occurred_at=to_timestamp(now),
                    click_id=click_id,
                ),
            )
            insert_rows(
                session, customer, AppAccount(app_id=app_id, app_user_id=app_user_id, customer_id=customer_id)
            )
        family = new_family(
            customer_id=customer_id,
            app_id=app_id,
            app_user_id=app_user_id,
            level=level,
            scopes=list(APP_SCOPES),
        )
        issued = mint_tokens(session, signer=signer, family=family, new=True)
        record_event(
            session,
            "identity.customer.recognized",
            events_pb2.CustomerRecognized(
                customer_id=customer_id,
                app_id=app_id,
                occurred_at=to_timestamp(now),
                click_id=click_id,
            ),
        )
    issued.new_account = new_account
    return issued


def refresh_session(*, engine: Engine, signer: TokenSigner, app_id: str, refresh_token: str) -> IssuedTokens:
    """Rotate a refresh token; presenting an already-used one revokes the whole family."""
    now = utcnow()
    reused = False
    with transaction(engine) as session:
        row = session.get(RefreshToken, token_hash(refresh_token))
        family = session.get(SessionFamily, row.family_id) if row else None
        if row is None or family is None or family.app_id != app_id:
            raise Unauthenticated("invalid_refresh_token", "unknown refresh token")
        if family.revoked_at is not None:
            raise Unauthenticated("session_revoked", "this session has ended")
        if row.used_at is not None:
            family.revoked_at, family.revoked_reason, reused = now, "refresh_token_reused", True
            session.add(family)
            record_sessions_ended(session, [family.family_id], reason="refresh_token_reused")
        elif row.expires_at <= now:
            raise Unauthenticated("refresh_token_expired", "the refresh token has expired")
        else:
            row.used_at = now
            session.add(row)
            issued = mint_tokens(session, signer=signer, family=family)
    if reused:
        raise Unauthenticated(
            "refresh_token_reused", "refresh token reused: every token of this session is revoked"
        )
    return issued


def revoke_families(
    session: Session, *, customer_id: str, reason: str, app_id: str = "", recognized_only: bool = False
) -> int:
    """End active sessions of a customer (optionally of one app / only recognised ones)."""
    stmt = select(SessionFamily).where(
        SessionFamily.customer_id == customer_id, col(SessionFamily.revoked_at).is_(None)
    )
    if app_id:
        stmt = stmt.where(SessionFamily.app_id == app_id)
    if recognized_only:
        stmt = stmt.where(SessionFamily.actor_app_id != "")
    now = utcnow()
    families = list(session.exec(stmt.with_for_update()))
    for family in families:
        family.revoked_at, family.revoked_reason = now, reason
        session.add(family)
    record_sessions_ended(session, [f.family_id for f in families], reason=reason)
    return len(families)


def record_sessions_ended(session: Session, session_ids: list[str], *, reason: str) -> None:
    """Tell the edge (in the caller's transaction) to refuse these sessions' unexpired access tokens."""
    if session_ids:
        message = events_pb2.SessionsEnded(
            session_ids=session_ids, reason=reason, occurred_at=to_timestamp(utcnow())
        )
        record_event(session, "identity.session.ended", message)


def sign_out_everywhere(*, engine: Engine, customer_id: str) -> int:
    """End every session of the customer in every app, and void its unredeemed tickets."""
    now = utcnow()
    with transaction(engine) as session:
        ended = revoke_families(session, customer_id=customer_id, reason="signed_out_everywhere")
        session.exec(
            update(RecognitionTicket)
            .where(
                col(RecognitionTicket.customer_id) == customer_id,
                col(RecognitionTicket.redeemed_at).is_(None),
            )
            .values(expires_at=now)
        )
    return ended


def active_family(session: Session, *, customer_id: str, app_id: str, token_id: str) -> SessionFamily:
    """The session an access token belongs to; a revoked session is rejected."""
    family = None
    if token_id:  # the family of the token's refresh token: ONE statement
        family = session.exec(_FAMILY_OF_TOKEN, params={"jti": token_id}).first()
    if family is None:
        stmt = select(SessionFamily).where(
            SessionFamily.customer_id == customer_id,
            SessionFamily.app_id == app_id,
            col(SessionFamily.revoked_at).is_(None),
        )
        family = session.exec(stmt).first()
    if family is None or family.revoked_at is not None or family.customer_id != customer_id:
        raise Unauthenticated("session_revoked", "this session has ended; sign in again")
    return family


_FAMILY_OF_TOKEN = (
    select(SessionFamily)
    .join(RefreshToken, col(RefreshToken.family_id) == col(SessionFamily.family_id))
    .where(RefreshToken.access_jti == bindparam("jti"))
)
