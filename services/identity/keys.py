"""Token signing keys (ES256): creation, rotation with an overlap, the published JWKS, signing.

In the embedded default the private keys live in identity's own database; production keeps them in
a KMS/HSM and only the signing call changes.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from lattice.identity.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from services.identity.admin_trail import ChangedBy, record
from services.identity.models import SigningKey
from services.identity.reads import OneStatementRead
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import InvalidInput
from services.runtime.outbox import record_event

ISSUER = "lattice-identity"
ALGORITHM = "ES256"
# RFC 9068 header typ, and the private `kind` claim the edge requires per route (one kind per token)
TOKEN_TYPE = "at+jwt"
KINDS = ("customer", "operator", "partner", "service")
MAX_OVERLAP_S = 7 * 24 * 3600


def _new_key(now: datetime) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kid = f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update(kid=kid, use="sig", alg=ALGORITHM)
    return SigningKey(kid=kid, private_pem=pem, public_jwk=jwk, created_at=now)


def _active(session: Any) -> SigningKey | None:
    stmt = (
        select(SigningKey)
        .where(col(SigningKey.retired_at).is_(None))
        .order_by(col(SigningKey.created_at).desc())
        .limit(1)
    )
    newest: SigningKey | None = session.exec(stmt).first()
    return newest


def ensure_signing_key(*, engine: Engine) -> str:
    """Create the first signing key if there is none; return the active kid."""
    with transaction(engine) as session:
        key = _active(session)
        if key is None:
            key = _new_key(utcnow())
            session.add(key)
        return key.kid


def rotate_signing_key(
    *, engine: Engine, overlap_s: int, by: ChangedBy | None = None
) -> tuple[SigningKey, SigningKey | None]:
    """Start signing with a new key; the previous one stays published for `overlap_s` seconds."""
    if not 0 <= overlap_s <= MAX_OVERLAP_S:
        raise InvalidInput("invalid_overlap", f"overlap must be 0..{MAX_OVERLAP_S} seconds")
    now = utcnow()
    with transaction(engine) as session:
        previous = _active(session)
        if previous is not None:
            previous.retired_at = now
            previous.not_after = now + timedelta(seconds=overlap_s)
            session.add(previous)
            if overlap_s == 0:
                # an emergency: the edge refuses the key's tokens at once, not when its JWKS goes stale
                withdrawn = events_pb2.SigningKeyWithdrawn(kid=previous.kid, occurred_at=to_timestamp(now))
                record_event(session, "identity.signing_key.withdrawn", withdrawn)
        key = _new_key(now)
        session.add(key)
        record(
            session,
            by=by,
            action="signing_key_rotated",
            entity="signing_key",
            entity_id=key.kid,
            detail=f"previous {previous.kid if previous else '-'} valid {overlap_s} s more",
        )
    return key, previous


def jwks_json(*, engine: Engine) -> str:
    """The RFC 7517 key set: the active key and retired keys still inside their overlap."""
    now = utcnow()
    with read_session(engine) as session:
        stmt = (
            select(SigningKey)
            .where(or_(col(SigningKey.not_after).is_(None), col(SigningKey.not_after) > now))
            .order_by(col(SigningKey.created_at).desc())
        )
        keys = [k.public_jwk for k in session.exec(stmt)]
    return json.dumps({"keys": keys}, separators=(",", ":"))


class TokenSigner:
    """Signs JWTs with the active key; parsed private keys are cached by kid.

    Which key is active is read at every signature (a rotation by any replica takes effect at once),
    but only its kid, in one indexed statement: the private key is loaded and parsed once per kid.
    Inside a write transaction the caller passes its session, so that no second connection is opened
    while the transaction holds SQLite's write lock; outside one the kid is ONE statement, no session.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._lock = threading.Lock()

    def _active(self, session: Session | None = None) -> tuple[str, ec.EllipticCurvePrivateKey]:
        if session is not None:
            kid = session.exec(_ACTIVE_KID).first()  # after the session's own pending writes
        else:
            found = _ACTIVE_KID_READ.rows(self._engine)
            kid = found[0][0] if found else None
        if kid is None:
            raise RuntimeError("no signing key; ensure_signing_key runs at start")
        with self._lock:
            cached = self._keys.get(kid)
        if cached is not None:
            return kid, cached
        if session is not None:
            key = session.get(SigningKey, kid)
        else:
            with read_session(self._engine) as own:
                key = own.get(SigningKey, kid)
        assert key is not None  # keys are never deleted, only retired
        loaded = serialization.load_pem_private_key(key.private_pem, password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        with self._lock:
            self._keys[kid] = loaded
        return kid, loaded

    def sign(self, claims: dict[str, Any], *, kind: str, session: Session | None = None) -> str:
        """An access token over `claims` for one kind of principal: issuer, kind, typ and active kid
        (read in `session` when given: the caller's transaction)."""
        if kind not in KINDS:
            raise ValueError(f"unknown token kind {kind}")
        kid, private = self._active(session)
        return jwt.encode(
            {**claims, "iss": ISSUER, "kind": kind},
            private,
            algorithm=ALGORITHM,
            headers={"kid": kid, "typ": TOKEN_TYPE},
        )


# the kid of the newest key not retired (the index on created_at); what `_active` returns, without
# loading the private key and the JWK of the row at every signature
_ACTIVE_KID = (
    select(SigningKey.kid)
    .where(col(SigningKey.retired_at).is_(None))
    .order_by(col(SigningKey.created_at).desc())
    .limit(1)
)
_ACTIVE_KID_READ = OneStatementRead(_ACTIVE_KID)
