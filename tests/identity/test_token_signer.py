"""The token signer reads which key is active at every signature (only its kid; each private key is
parsed once) and, inside a write transaction, in the caller's own session: a rotation, made through
another signer (another replica) or none, takes effect at the next token either way. Real SQLite file
with identity's migrations."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
from sqlalchemy.engine import Engine

from services.identity import keys
from services.identity.models import SigningKey
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, transaction
from tests.support.databases import copy_migrated_sqlite

NOW = int(time.time())
CLAIMS = {"aud": "mbank", "sub": "cus_signer", "iat": NOW, "exp": NOW + 900, "jti": "j1"}


def database(tmp_path: Path) -> Engine:
    path = tmp_path / "identity.db"
    copy_migrated_sqlite("identity", path)
    return make_engine(f"sqlite:///{path}")


def verified_kid(engine: Engine, token: str) -> str:
    """The token's kid, once its signature verified against the published key set."""
    kid = str(jwt.get_unverified_header(token)["kid"])
    published = json.loads(keys.jwks_json(engine=engine))["keys"]
    key = jwt.PyJWK.from_dict(next(k for k in published if k["kid"] == kid))
    jwt.decode(token, key, algorithms=["ES256"], audience="mbank", issuer=keys.ISSUER)
    return kid


def test_a_rotation_takes_effect_at_the_next_signature_in_a_session_or_not(tmp_path: Path) -> None:
    engine = database(tmp_path)
    first = keys.ensure_signing_key(engine=engine)
    signer = keys.TokenSigner(engine)
    assert verified_kid(engine, signer.sign(CLAIMS, kind="customer")) == first
    with transaction(engine) as session:
        assert verified_kid(engine, signer.sign(CLAIMS, kind="customer", session=session)) == first

    rotated, previous = keys.rotate_signing_key(engine=engine, overlap_s=60)  # not through `signer`
    assert previous is not None and previous.kid == first and rotated.kid != first
    assert verified_kid(engine, signer.sign(CLAIMS, kind="customer")) == rotated.kid
    with transaction(engine) as session:
        token = signer.sign(CLAIMS, kind="operator", session=session)
    assert verified_kid(engine, token) == rotated.kid
    assert jwt.decode(token, options={"verify_signature": False})["kind"] == "operator"
    engine.dispose()


def test_a_key_rotated_in_the_callers_own_transaction_is_the_one_it_signs_with(tmp_path: Path) -> None:
    """What the caller's session sees (its own uncommitted writes included) decides the key."""
    engine = database(tmp_path)
    first = keys.ensure_signing_key(engine=engine)
    signer = keys.TokenSigner(engine)
    with transaction(engine) as session:
        old = session.get(SigningKey, first)
        assert old is not None
        new = keys._new_key(utcnow())
        old.retired_at = new.created_at
        session.add_all([old, new])
        token = signer.sign(CLAIMS, kind="customer", session=session)
    assert jwt.get_unverified_header(token)["kid"] == new.kid
    engine.dispose()
