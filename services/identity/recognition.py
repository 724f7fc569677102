"""Cross-app recognition (the M+N matrix): one-time tickets with RFC 8693 token-exchange semantics."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from lattice.identity.v1 import events_pb2
from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from services.identity.assertions import APP_USER_ID, consume_assertion, verify_assertion
from services.identity.consents import has_active_consent
from services.identity.keys import TokenSigner
from services.identity.models import App, AppAccount, RecognitionTicket
from services.identity.rows import insert_rows
from services.identity.sessions import IssuedTokens, active_family, mint_tokens, new_family, token_hash
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import transaction
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from services.runtime.outbox import record_event

TICKET_TTL = timedelta(seconds=60)
RECOGNITION_PURPOSE = "cross_app_recognition"


@dataclass(frozen=True)
class Caller:
    """The signed-in customer as the gateway authenticated it."""

    customer_id: str
    app_id: str
    assurance_level: int
    token_id: str
    scopes: tuple[str, ...]


def _legal_entities(session: Session, *app_ids: str) -> dict[str, str]:
    """The legal entity of each of these apps that is registered (ONE statement)."""
    found = session.connection().execute(_LEGAL_ENTITIES, {"apps": list(app_ids)})
    return {app_id: entity for app_id, entity in found}


_LEGAL_ENTITIES = select(App.app_id, App.legal_entity).where(
    col(App.app_id).in_(bindparam("apps", expanding=True))
)


def _require_consent_across_entities(
    session: Session, *, customer_id: str, source: str, target: str, entities: dict[str, str]
) -> None:
    if entities[source] != entities[target] and not has_active_consent(
        session, customer_id=customer_id, recipient_type="app", recipient=target
    ):
        raise Forbidden("consent_required", f"recognition in {target} needs the customer's consent first")


def issue_ticket(
    *, engine: Engine, caller: Caller, audience_app_id: str, scopes: list[str]
) -> tuple[str, int]:
    """A single-use ticket, valid 60 s, for `audience_app_id` to recognise the signed-in customer."""
    if audience_app_id == caller.app_id:
        raise InvalidInput("same_app", "a ticket is for a sibling app, not the calling app")
    granted = scopes or list(caller.scopes)
    if not set(granted) <= set(caller.scopes):
        raise Forbidden("scope_not_allowed", "a ticket can only carry scopes the caller's token has")
    ticket = secrets.token_urlsafe(32)
    with transaction(engine) as session:
        entities = _legal_entities(session, caller.app_id, audience_app_id)
        if len(entities) < 2:
            raise NotFound("app_not_found", "no such app")
        family = active_family(
            session, customer_id=caller.customer_id, app_id=caller.app_id, token_id=caller.token_id
        )
        _require_consent_across_entities(
            session,
            customer_id=caller.customer_id,
            source=caller.app_id,
            target=audience_app_id,
            entities=entities,
        )
        insert_rows(
            session,
            RecognitionTicket(
                ticket_hash=token_hash(ticket),
                customer_id=caller.customer_id,
                from_app_id=caller.app_id,
                to_app_id=audience_app_id,
                scopes=sorted(granted),
                assurance_level=min(caller.assurance_level, family.assurance_level),
                expires_at=utcnow() + TICKET_TTL,
            ),
        )
    return ticket, int(TICKET_TTL.total_seconds())


def _claim_ticket(
    session: Session, *, ticket: str, app_id: str, scopes: list[str]
) -> tuple[RecognitionTicket | None, str]:
    """Mark the ticket used (any attempt burns it); returns it, or the reason it is refused.

    ONE statement burns a ticket not used before and returns it; a second look only on a refusal."""
    hashed, now = token_hash(ticket), utcnow()
    burnt = session.connection().execute(_BURN, {"hashed": hashed, "now": now}).first()
    if burnt is None:
        found = session.connection().execute(_KNOWN, {"hashed": hashed}).first()
        return None, "ticket_already_redeemed" if found is not None else "invalid_ticket"
    row = RecognitionTicket(ticket_hash=hashed, redeemed_at=now, **burnt._mapping)
    if row.expires_at <= now:
        return None, "ticket_expired"
    if row.to_app_id != app_id:
        return None, "ticket_audience_mismatch"
    if not set(scopes) <= set(row.scopes):
        return None, "scope_not_allowed"
    return row, ""


_TICKET_COLUMNS = (
    col(RecognitionTicket.customer_id),
    col(RecognitionTicket.from_app_id),
    col(RecognitionTicket.to_app_id),
    col(RecognitionTicket.scopes),
    col(RecognitionTicket.assurance_level),
    col(RecognitionTicket.expires_at),
)


# a ticket not used before, burnt; and whether a ticket is known at all (only on a refusal)
_BURN = (
    update(RecognitionTicket)
    .where(
        col(RecognitionTicket.ticket_hash) == bindparam("hashed"),
        col(RecognitionTicket.redeemed_at).is_(None),
    )
    .values(redeemed_at=bindparam("now"))
    .returning(*_TICKET_COLUMNS)
)
_KNOWN = select(RecognitionTicket.ticket_hash).where(RecognitionTicket.ticket_hash == bindparam("hashed"))


_REFUSALS = {
    "invalid_ticket": Unauthenticated("invalid_ticket", "unknown ticket"),
    "ticket_already_redeemed": Conflict("ticket_already_redeemed", "the ticket was already used"),
    "ticket_expired": Unauthenticated("ticket_expired", "the ticket has expired"),
    "ticket_audience_mismatch": Forbidden("ticket_audience_mismatch", "the ticket is for another app"),
    "scope_not_allowed": Forbidden("scope_not_allowed", "the ticket does not carry every requested scope"),
}


def redeem_ticket(
    *,
    engine: Engine,
    signer: TokenSigner,
    app_id: str,
    ticket: str,
    client_assertion: str,
    click_id: str = "",
    scopes: list[str] | None = None,
) -> IssuedTokens:
    """The audience app exchanges a ticket for its own tokens for the same customer (actor recorded);
    `scopes` (RFC 8693 `scope`) narrows them to a subset of the ticket's."""
    claims = verify_assertion(engine=engine, app_id=app_id, assertion=client_assertion, require_user=False)
    wanted_user = str(claims.get("app_user_id") or "")
    if wanted_user and not APP_USER_ID.match(wanted_user):
        raise InvalidInput("invalid_app_user_id", "app_user_id must be 1-64 characters")
    refusal = ""
    with transaction(engine) as session:
        consume_assertion(session, app_id=app_id, claims=claims)
        row, refusal = _claim_ticket(session, ticket=ticket, app_id=app_id, scopes=scopes or [])
        if row is not None:
            issued = _recognise(
                session,
                signer=signer,
                row=row,
                wanted_user=wanted_user,
                click_id=click_id,
                scopes=sorted(scopes) if scopes else list(row.scopes),
            )
    if refusal:
        raise _REFUSALS[refusal]
    return issued


def _recognise(
    session: Session,
    *,
    signer: TokenSigner,
    row: RecognitionTicket,
    wanted_user: str,
    click_id: str,
    scopes: list[str],
) -> IssuedTokens:
    source, target = row.from_app_id, row.to_app_id
    entities = _legal_entities(session, source, target)
    _require_consent_across_entities(
        session, customer_id=row.customer_id, source=source, target=target, entities=entities
    )
    now = utcnow()
    account = _account_in(session, app_id=target, customer_id=row.customer_id, app_user_id=wanted_user)
    new_account = account is None
    if account is None:
        account = AppAccount(
            app_id=target,
            app_user_id=wanted_user or "lat-" + secrets.token_hex(8),
            customer_id=row.customer_id,
        )
        record_event(
            session,
            "identity.app_account.linked",
            events_pb2.AppAccountLinked(
                customer_id=row.customer_id,
                app_id=target,
                new_customer=False,
                occurred_at=to_timestamp(now),
                click_id=click_id,
            ),
        )
        insert_rows(session, account)
    family = new_family(
        customer_id=row.customer_id,
        app_id=target,
        app_user_id=account.app_user_id,
        level=row.assurance_level,
        scopes=scopes,
        actor=source,
    )
    issued = mint_tokens(session, signer=signer, family=family, new=True)
    issued.new_account = new_account
    record_event(
        session,
        "identity.customer.recognized",
        events_pb2.CustomerRecognized(
            customer_id=row.customer_id,
            app_id=target,
            actor_app_id=source,
            occurred_at=to_timestamp(now),
            click_id=click_id,
        ),
    )
    return issued


def _account_in(session: Session, *, app_id: str, customer_id: str, app_user_id: str) -> AppAccount | None:
    """The customer's account in `app_id`: the one named `app_user_id` (which must be theirs), or
    without a name the earliest linked (ONE statement either way)."""
    statement = _NAMED_ACCOUNT if app_user_id else _FIRST_ACCOUNT
    params = {"app_id": app_id, "app_user_id": app_user_id, "customer_id": customer_id}
    found = session.connection().execute(statement, params).first()
    if found is None:
        return None
    if found.customer_id != customer_id:
        raise Conflict("account_linked_elsewhere", "that app account belongs to another customer")
    return AppAccount(app_id=app_id, app_user_id=found.app_user_id, customer_id=found.customer_id)


_NAMED_ACCOUNT = select(AppAccount.app_user_id, AppAccount.customer_id).where(
    AppAccount.app_id == bindparam("app_id"), AppAccount.app_user_id == bindparam("app_user_id")
)
_FIRST_ACCOUNT = (
    select(AppAccount.app_user_id, AppAccount.customer_id)
    .where(AppAccount.app_id == bindparam("app_id"), AppAccount.customer_id == bindparam("customer_id"))
    .order_by(col(AppAccount.linked_at))
    .limit(1)
)
