"""Consent: separate, recorded, withdrawable at once; the history is kept for audit."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from lattice.identity.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.identity.models import App, Consent, Partner, PartnerLink
from services.identity.rows import insert_rows
from services.identity.sessions import revoke_families
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Forbidden, InvalidInput, NotFound
from services.runtime.outbox import record_event
from services.runtime.paging import read_page

DATA_CATEGORIES = ("identity", "pairwise_id", "assurance_level", "benefits", "contact_masked", "conversion")
_TEXT = re.compile(r"^[A-Za-z0-9._:-]{1,40}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{1,99}$")


@dataclass(frozen=True)
class ConsentGrant:
    """What the customer agreed to: recipient, purpose, data categories, consent text version."""

    recipient_type: str
    recipient: str
    purpose: str
    data_categories: tuple[str, ...]
    text_version: str

    def missing(self) -> bool:
        return not (
            self.recipient_type
            and self.recipient
            and self.purpose
            and self.data_categories
            and self.text_version
        )


def _validate(session: Session, grant: ConsentGrant, *, recipient_known: bool) -> None:
    if grant.missing():
        raise Forbidden(
            "consent_required", "a consent names recipient, purpose, data categories and text version"
        )
    if not _PURPOSE.match(grant.purpose) or not _TEXT.match(grant.text_version):
        raise InvalidInput(
            "invalid_consent", "purpose is a snake_case word; text_version up to 40 characters"
        )
    if not set(grant.data_categories) <= set(DATA_CATEGORIES):
        raise InvalidInput("invalid_data_category", f"data categories are among {', '.join(DATA_CATEGORIES)}")
    if grant.recipient_type not in ("app", "partner"):
        raise InvalidInput("invalid_recipient_type", "recipient_type is app or partner")
    if recipient_known:
        return
    if grant.recipient_type == "app":
        recipient: App | Partner | None = session.get(App, grant.recipient)
    else:
        recipient = session.get(Partner, grant.recipient)
    if recipient is None:
        raise NotFound("recipient_not_found", f"no {grant.recipient_type} {grant.recipient}")


def new_consent(*, customer_id: str, app_id: str, grant: ConsentGrant) -> Consent:
    """The consent `grant` describes, given by the customer in `app_id` (not stored yet)."""
    return Consent(
        consent_id="cst_" + uuid.uuid4().hex,
        customer_id=customer_id,
        recipient_type=grant.recipient_type,
        recipient=grant.recipient,
        purpose=grant.purpose,
        data_categories=sorted(set(grant.data_categories)),
        text_version=grant.text_version,
        granted_in_app_id=app_id,
    )


def record_consent(session: Session, *, consent: Consent, recipient_known: bool = False) -> Consent:
    """Validate and store a consent in the caller's transaction (`recipient_known`: the caller has
    already found its recipient in this transaction)."""
    grant = ConsentGrant(
        recipient_type=consent.recipient_type,
        recipient=consent.recipient,
        purpose=consent.purpose,
        data_categories=tuple(consent.data_categories),
        text_version=consent.text_version,
    )
    _validate(session, grant, recipient_known=recipient_known)
    insert_rows(session, consent)
    return consent


def grant_consent(*, engine: Engine, customer_id: str, app_id: str, grant: ConsentGrant) -> Consent:
    with transaction(engine) as session:
        return record_consent(
            session, consent=new_consent(customer_id=customer_id, app_id=app_id, grant=grant)
        )


def has_active_consent(session: Session, *, customer_id: str, recipient_type: str, recipient: str) -> bool:
    stmt = select(Consent.consent_id).where(
        Consent.customer_id == customer_id,
        Consent.recipient_type == recipient_type,
        Consent.recipient == recipient,
        col(Consent.withdrawn_at).is_(None),
    )
    return session.exec(stmt.limit(1)).first() is not None


def list_consents(*, engine: Engine, customer_id: str, size: int, token: str) -> tuple[list[Consent], str]:
    """A page of the customer's consents, withdrawn ones included (newest first)."""
    with read_session(engine) as session:
        stmt = select(Consent).where(Consent.customer_id == customer_id)
        order = [(col(Consent.granted_at), True), (col(Consent.consent_id), True)]
        return read_page(session, stmt, order, token=token, size=size)


def withdraw_consent(*, engine: Engine, customer_id: str, consent_id: str) -> Consent:
    """Withdraw at once: partner links are tombstoned, recognised sessions end, events go out."""
    now = utcnow()
    with transaction(engine) as session:
        consent = session.get(Consent, consent_id)
        if consent is None or consent.customer_id != customer_id:
            raise NotFound("consent_not_found", "no such consent")
        if consent.withdrawn_at is not None:
            return consent
        consent.withdrawn_at = now
        session.add(consent)
        record_event(
            session,
            "identity.consent.withdrawn",
            events_pb2.ConsentWithdrawn(
                consent_id=consent.consent_id,
                customer_id=customer_id,
                recipient=consent.recipient,
                purpose=consent.purpose,
                occurred_at=to_timestamp(now),
            ),
        )
        if consent.recipient_type == "partner":
            stmt = select(PartnerLink).where(
                PartnerLink.partner_id == consent.recipient,
                PartnerLink.customer_id == customer_id,
                col(PartnerLink.removed_at).is_(None),
            )
            for link in session.exec(stmt):
                remove_link_in(session, link=link, reason="consent_withdrawn")
        else:
            revoke_families(
                session,
                customer_id=customer_id,
                reason="consent_withdrawn",
                app_id=consent.recipient,
                recognized_only=True,
            )
    return consent


def remove_link_in(session: Session, *, link: PartnerLink, reason: str) -> None:
    """Tombstone a partner link and tell the partner side through the outbox."""
    link.removed_at = utcnow()
    link.removed_reason = reason
    session.add(link)
    record_event(
        session,
        "identity.partner_link.removed",
        events_pb2.PartnerLinkRemoved(
            customer_id=link.customer_id,
            partner_id=link.partner_id,
            pairwise_id=link.pairwise_id,
            reason=reason,
            occurred_at=to_timestamp(link.removed_at),
        ),
    )
