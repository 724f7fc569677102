"""Partner request-signing secrets (HMAC): issue, rotate with an overlap, serve to the edge."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from lattice.identity.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.identity.admin_trail import ChangedBy, record
from services.identity.keys import MAX_OVERLAP_S
from services.identity.models import Partner, PartnerSigningKey
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import InvalidInput, NotFound
from services.runtime.outbox import record_event


def add_partner_key(
    session: Session, *, partner_id: str, key_id: str = "", secret: bytes = b""
) -> PartnerSigningKey:
    """A new current key for a partner, in the caller's transaction."""
    now = utcnow()
    key = PartnerSigningKey(
        partner_id=partner_id,
        key_id=key_id or f"{partner_id}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}",
        secret=secret or secrets.token_bytes(32),
        not_before=now,
    )
    session.add(key)
    return key


def rotate_partner_key(
    *, engine: Engine, partner_id: str, overlap_s: int, by: ChangedBy | None = None
) -> tuple[PartnerSigningKey, datetime]:
    """Issue a new secret; current keys stay valid for `overlap_s` more seconds."""
    if not 0 <= overlap_s <= MAX_OVERLAP_S:
        raise InvalidInput("invalid_overlap", f"overlap must be 0..{MAX_OVERLAP_S} seconds")
    now = utcnow()
    ends = now + timedelta(seconds=overlap_s)
    with transaction(engine) as session:
        if session.get(Partner, partner_id) is None:
            raise NotFound("partner_not_found", f"no partner {partner_id}")
        stmt = select(PartnerSigningKey).where(
            PartnerSigningKey.partner_id == partner_id, col(PartnerSigningKey.not_after).is_(None)
        )
        retired = list(session.exec(stmt))
        for current in retired:
            current.not_after = ends
            session.add(current)
        if overlap_s == 0 and retired:
            # revoked now: the edge drops the keys from its caches within a second (gateway/revoked_keys.py)
            revoked = events_pb2.PartnerKeyRevoked(
                partner_id=partner_id, key_ids=[k.key_id for k in retired], occurred_at=to_timestamp(now)
            )
            record_event(session, "identity.partner_key.revoked", revoked)
        key = add_partner_key(session, partner_id=partner_id)
        record(
            session,
            by=by,
            action="partner_key_rotated",
            entity="partner",
            entity_id=partner_id,
            detail=f"new key {key.key_id}; previous keys valid {overlap_s} s more",
        )
    return key, ends


def get_partner_key(*, engine: Engine, partner_id: str, key_id: str) -> PartnerSigningKey:
    """A partner's key by id while it is valid; expired or unknown keys are not found."""
    with read_session(engine) as session:
        key = session.get(PartnerSigningKey, (partner_id, key_id))
    now = utcnow()
    if key is None or key.not_before > now or (key.not_after is not None and key.not_after <= now):
        raise NotFound("signing_key_not_found", "no valid signing key with that id")
    return key
