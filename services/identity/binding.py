"""Partner binding: the partner asks, the customer proves control in a bank app and consents,
the partner receives a pairwise id (never the internal customer id) and a partner-scoped token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from lattice.identity.v1 import events_pb2
from sqlalchemy import and_, bindparam
from sqlalchemy import select as core_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select, update

from services.identity.consents import ConsentGrant, new_consent, record_consent, remove_link_in
from services.identity.keys import TokenSigner
from services.identity.models import Consent, Partner, PartnerBinding, PartnerLink
from services.identity.reads import OneStatementRead
from services.identity.recognition import Caller
from services.identity.rows import insert_rows
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.outbox import record_event

BINDING_TTL = timedelta(minutes=10)
PARTNER_TOKEN_TTL = timedelta(minutes=15)
_USER_REF = re.compile(r"^[A-Za-z0-9._:@-]{1,100}$")


def pairwise_id(*, pepper: str, partner_id: str, customer_id: str) -> str:
    """Stable per partner, different across partners, not reversible without the pepper."""
    digest = hmac.new(
        pepper.encode(), f"pairwise|{partner_id}|{customer_id}".encode(), hashlib.sha256
    ).digest()
    return "pw_" + base64.b32encode(digest[:20]).decode().lower().rstrip("=")


def start_binding(
    *, engine: Engine, partner_id: str, partner_user_ref: str, scopes: list[str], required_level: int
) -> tuple[PartnerBinding, Partner]:
    """A pending binding the partner's user confirms in a bank app within 10 minutes."""
    if not _USER_REF.match(partner_user_ref):
        raise InvalidInput("invalid_partner_user_ref", "partner_user_ref is 1-100 characters")
    if not 1 <= (required_level or 2) <= 3:
        raise InvalidInput("invalid_assurance_level", "required assurance level is 1, 2 or 3")
    with transaction(engine) as session:
        partner = session.get(Partner, partner_id)
        if partner is None:
            raise NotFound("partner_not_found", f"no partner {partner_id}")
        wanted = scopes or list(partner.allowed_scopes)
        if not set(wanted) <= set(partner.allowed_scopes):
            raise Forbidden("scope_not_allowed", "the partner may not ask for these scopes")
        binding = PartnerBinding(
            binding_id="bnd_" + secrets.token_urlsafe(18),
            partner_id=partner_id,
            partner_user_ref=partner_user_ref,
            scopes=sorted(wanted),
            required_assurance_level=required_level or 2,
            expires_at=utcnow() + BINDING_TTL,
        )
        insert_rows(session, binding)
    return binding, partner


def get_binding(
    *, engine: Engine, binding_id: str, partner_id: str = "", customer_id: str = ""
) -> tuple[PartnerBinding, Partner]:
    """A binding as its partner, or a signed-in customer, sees it: another partner's is not found, and
    so is one another customer confirmed (a pending one is shown to whoever holds its id, to confirm)."""
    if bool(partner_id) == bool(customer_id):
        raise InvalidInput("invalid_request", "a binding is read by its partner or by a customer")
    with read_session(engine) as session:
        binding = session.get(PartnerBinding, binding_id)
        partner = session.get(Partner, binding.partner_id) if binding else None
    if binding is None or partner is None or not _visible(binding, partner_id, customer_id):
        raise NotFound("binding_not_found", "no such binding")
    if binding.status == "pending" and binding.expires_at <= utcnow():
        binding.status = "expired"
    return binding, partner


def _visible(binding: PartnerBinding, partner_id: str, customer_id: str) -> bool:
    if partner_id:
        return binding.partner_id == partner_id
    return binding.customer_id is None or binding.customer_id == customer_id


def confirm_binding(
    *, engine: Engine, pepper: str, caller: Caller, binding_id: str, grant: ConsentGrant
) -> tuple[PartnerBinding, Consent]:
    """The customer's proof (signed in, enough assurance) and separate consent create the link."""
    now = utcnow()
    with transaction(engine) as session:
        consent = new_consent(customer_id=caller.customer_id, app_id=caller.app_id, grant=grant)
        binding = _confirm(
            session, caller=caller, binding_id=binding_id, grant=grant, consent=consent, now=now
        )
        if binding is None:
            _refuse_confirmation(session, caller=caller, binding_id=binding_id, grant=grant, now=now)
            raise Conflict("binding_not_pending", "the binding is no longer waiting for confirmation")
        # the binding names this partner, and partners are never deleted: the recipient exists
        record_consent(session, consent=consent, recipient_known=True)
        _link(session, pepper=pepper, binding=binding, consent=consent)
    return binding, consent


def _confirm(
    session: Session, *, caller: Caller, binding_id: str, grant: ConsentGrant, consent: Consent, now: datetime
) -> PartnerBinding | None:
    """ONE statement confirms the binding when every rule of a confirmation holds (still pending, not
    expired, the caller's to confirm, the consent names its partner, the caller's assurance enough);
    None when one does not (`_refuse_confirmation` says which)."""
    if grant.missing() or grant.recipient_type != "partner":
        return None
    params = {
        "binding": binding_id,
        "caller": caller.customer_id,
        "now": now,
        "partner": grant.recipient,
        "level": caller.assurance_level,
        "consent": consent.consent_id,
    }
    confirmed = session.connection().execute(_CONFIRM, params).first()
    return None if confirmed is None else PartnerBinding(**confirmed._mapping)


_CONFIRM = (
    update(PartnerBinding)
    .where(
        col(PartnerBinding.binding_id) == bindparam("binding"),
        or_(
            col(PartnerBinding.customer_id).is_(None), col(PartnerBinding.customer_id) == bindparam("caller")
        ),
        col(PartnerBinding.status) == "pending",
        col(PartnerBinding.expires_at) > bindparam("now"),
        col(PartnerBinding.partner_id) == bindparam("partner"),
        col(PartnerBinding.required_assurance_level) <= bindparam("level"),
    )
    .values(status="confirmed", customer_id=bindparam("caller"), consent_id=bindparam("consent"))
    .returning(*(column for column in PartnerBinding.__table__.columns))  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
)


def _refuse_confirmation(
    session: Session, *, caller: Caller, binding_id: str, grant: ConsentGrant, now: datetime
) -> None:
    """Raise why a binding cannot be confirmed, in the order the rules are checked."""
    binding = session.get(PartnerBinding, binding_id)
    if binding is None or not _visible(binding, "", caller.customer_id):
        raise NotFound("binding_not_found", "no such binding")
    if binding.status != "pending" or binding.expires_at <= now:
        raise Conflict("binding_not_pending", "the binding is no longer waiting for confirmation")
    if grant.missing() or grant.recipient_type != "partner" or grant.recipient != binding.partner_id:
        raise Forbidden("consent_required", "binding needs a separate consent naming this partner")
    if caller.assurance_level < binding.required_assurance_level:
        raise Forbidden(
            "step_up_required", f"sign in with assurance level {binding.required_assurance_level}"
        )


def _link(session: Session, *, pepper: str, binding: PartnerBinding, consent: Consent) -> PartnerLink:
    assert binding.customer_id is not None
    link = _active_link(session, partner_id=binding.partner_id, customer_id=binding.customer_id)
    if link is not None:
        link.consent_id, link.scopes = consent.consent_id, binding.scopes
        session.add(link)
        return link
    link = PartnerLink(
        link_id="lnk_" + uuid.uuid4().hex,
        partner_id=binding.partner_id,
        pairwise_id=pairwise_id(
            pepper=pepper, partner_id=binding.partner_id, customer_id=binding.customer_id
        ),
        customer_id=binding.customer_id,
        consent_id=consent.consent_id,
        scopes=binding.scopes,
    )
    insert_rows(session, link)
    record_event(
        session,
        "identity.partner_link.created",
        events_pb2.PartnerLinkCreated(
            customer_id=link.customer_id,
            partner_id=link.partner_id,
            pairwise_id=link.pairwise_id,
            consent_id=consent.consent_id,
            occurred_at=to_timestamp(link.linked_at),
        ),
    )
    return link


def _active_link(session: Session, *, partner_id: str, customer_id: str) -> PartnerLink | None:
    stmt = select(PartnerLink).where(
        PartnerLink.partner_id == partner_id,
        PartnerLink.customer_id == customer_id,
        col(PartnerLink.removed_at).is_(None),
    )
    return session.exec(stmt).first()


@dataclass(frozen=True)
class Completion:
    """What the partner collects for a confirmed binding: never the internal customer id."""

    partner_user_ref: str
    pairwise_id: str
    scopes: list[str]
    access_token: str


# A partner's binding joined to the customer's active link to that partner: ONE statement answers
# a completion from one snapshot.
_COMPLETION = OneStatementRead(
    core_select(
        col(PartnerBinding.status),
        col(PartnerBinding.expires_at),
        col(PartnerBinding.customer_id),
        col(PartnerBinding.partner_user_ref),
        col(PartnerLink.pairwise_id),
        col(PartnerLink.scopes),
    )
    .join(Partner, col(Partner.partner_id) == col(PartnerBinding.partner_id))
    .outerjoin(
        PartnerLink,
        and_(
            col(PartnerLink.partner_id) == col(PartnerBinding.partner_id),
            col(PartnerLink.customer_id) == col(PartnerBinding.customer_id),
            col(PartnerLink.removed_at).is_(None),
        ),
    )
    .where(
        col(PartnerBinding.binding_id) == bindparam("binding_id"),
        col(PartnerBinding.partner_id) == bindparam("partner_id"),
    )
)


def complete_binding(*, engine: Engine, signer: TokenSigner, partner_id: str, binding_id: str) -> Completion:
    """The partner collects the pairwise id and a partner-scoped token once the customer confirmed."""
    found = _COMPLETION.rows(engine, binding_id=binding_id, partner_id=partner_id)
    if not found:  # no such binding, or another partner's
        raise NotFound("binding_not_found", "no such binding")
    status, expires_at, customer_id, partner_user_ref, pairwise, scopes = found[0]
    now = utcnow()
    if status == "pending" and expires_at <= now:
        raise Conflict("binding_expired", "the customer did not confirm in time")
    if status == "pending" or customer_id is None:
        raise Forbidden("consent_required", "the customer has not confirmed this binding")
    if pairwise is None:
        raise Forbidden("consent_withdrawn", "the customer withdrew consent or unbound")
    token = signer.sign(
        {
            "aud": f"partner:{partner_id}",
            "sub": pairwise,
            "iat": int(now.timestamp()),
            "exp": int((now + PARTNER_TOKEN_TTL).timestamp()),
            "jti": uuid.uuid4().hex,
            "scope": " ".join(scopes),
        },
        kind="partner",
    )
    return Completion(
        partner_user_ref=partner_user_ref, pairwise_id=pairwise, scopes=scopes, access_token=token
    )


def find_link(*, engine: Engine, partner_id: str, pairwise: str) -> PartnerLink:
    """The active link behind a pairwise id; a tombstoned one fails with consent_withdrawn."""
    with read_session(engine) as session:
        stmt = select(PartnerLink).where(
            PartnerLink.partner_id == partner_id, PartnerLink.pairwise_id == pairwise
        )
        links = list(session.exec(stmt.order_by(col(PartnerLink.linked_at).desc()).limit(5)))
    active = next((link for link in links if link.removed_at is None), None)
    if active is not None:
        return active
    if links:
        raise Forbidden("consent_withdrawn", "the customer is no longer bound to this partner")
    raise NotFound("pairwise_id_not_found", "no customer with this pairwise id")


def pairwise_for_customer(*, engine: Engine, partner_id: str, customer_id: str) -> str:
    """The pairwise id of an active link, or '' (not bound, or consent withdrawn)."""
    with read_session(engine) as session:
        link = _active_link(session, partner_id=partner_id, customer_id=customer_id)
    return link.pairwise_id if link else ""


def remove_link(*, engine: Engine, partner_id: str, pairwise: str = "", customer_id: str = "") -> PartnerLink:
    """Unbind: by the partner (pairwise id) or by the customer (their own link to the partner)."""
    with transaction(engine) as session:
        if customer_id:
            link = _active_link(session, partner_id=partner_id, customer_id=customer_id)
        else:
            stmt = select(PartnerLink).where(
                PartnerLink.partner_id == partner_id,
                PartnerLink.pairwise_id == pairwise,
                col(PartnerLink.removed_at).is_(None),
            )
            link = session.exec(stmt).first()
        if link is None:
            raise NotFound("partner_link_not_found", "no such partner link")
        remove_link_in(session, link=link, reason="unbound")
    return link
