"""Cross-app recognition (the M+N matrix): one-time tickets with RFC 8693 token-exchange semantics."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from lattice.identity.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.identity.assertions import APP_USER_ID, consume_assertion, verify_assertion
from services.identity.consents import has_active_consent
from services.identity.customers import account_in_app
from services.identity.keys import TokenSigner
from services.identity.models import App, AppAccount, RecognitionTicket
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


def _require_consent_across_entities(session: Session, *, customer_id: str, source: App, target: App) -> None:
    if source.legal_entity != target.legal_entity and not has_active_consent(
        session, customer_id=customer_id, recipient_type="app", recipient=target.app_id
    ):
        raise Forbidden(
            "consent_required", f"recognition in {target.app_id} needs the customer's consent first"
        )


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
        source, target = session.get(App, caller.app_id), session.get(App, audience_app_id)
        if source is None or target is None:
            raise NotFound("app_not_found", "no such app")
        family = active_family(
            session, customer_id=caller.customer_id, app_id=caller.app_id, token_id=caller.token_id
        )
        _require_consent_across_entities(
            session, customer_id=caller.customer_id, source=source, target=target
        )
        session.add(
            RecognitionTicket(
                ticket_hash=token_hash(ticket),
                customer_id=caller.customer_id,
                from_app_id=caller.app_id,
                to_app_id=audience_app_id,
                scopes=sorted(granted),
                assurance_level=min(caller.assurance_level, family.assurance_level),
                expires_at=utcnow() + TICKET_TTL,
            )
        )
    return ticket, int(TICKET_TTL.total_seconds())


def _claim_ticket(
    session: Session, *, ticket: str, app_id: str, scopes: list[str]
) -> tuple[RecognitionTicket | None, str]:
    """Mark the ticket used (any attempt burns it); returns it, or the reason it is refused."""
    stmt = (
        select(RecognitionTicket).where(RecognitionTicket.ticket_hash == token_hash(ticket)).with_for_update()
    )
    row = session.exec(stmt).first()
    if row is None:
        return None, "invalid_ticket"
    if row.redeemed_at is not None:
        return None, "ticket_already_redeemed"
    now = utcnow()
    row.redeemed_at = now
    session.add(row)
    if row.expires_at <= now:
        return None, "ticket_expired"
    if row.to_app_id != app_id:
        return None, "ticket_audience_mismatch"
    if not set(scopes) <= set(row.scopes):
        return None, "scope_not_allowed"
    return row, ""


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
    source, target = session.get(App, row.from_app_id), session.get(App, row.to_app_id)
    assert source is not None and target is not None
    _require_consent_across_entities(session, customer_id=row.customer_id, source=source, target=target)
    now = utcnow()
    account = session.get(AppAccount, (target.app_id, wanted_user)) if wanted_user else None
    if account is not None and account.customer_id != row.customer_id:
        raise Conflict("account_linked_elsewhere", "that app account belongs to another customer")
    account = account or (
        None if wanted_user else account_in_app(session, customer_id=row.customer_id, app_id=target.app_id)
    )
    new_account = account is None
    if account is None:
        account = AppAccount(
            app_id=target.app_id,
            app_user_id=wanted_user or "lat-" + secrets.token_hex(8),
            customer_id=row.customer_id,
        )
        session.add(account)
        record_event(
            session,
            "identity.app_account.linked",
            events_pb2.AppAccountLinked(
                customer_id=row.customer_id,
                app_id=target.app_id,
                new_customer=False,
                occurred_at=to_timestamp(now),
                click_id=click_id,
            ),
        )
    family = new_family(
        customer_id=row.customer_id,
        app_id=target.app_id,
        app_user_id=account.app_user_id,
        level=row.assurance_level,
        scopes=scopes,
        actor=source.app_id,
    )
    session.add(family)
    issued = mint_tokens(session, signer=signer, family=family)
    issued.new_account = new_account
    record_event(
        session,
        "identity.customer.recognized",
        events_pb2.CustomerRecognized(
            customer_id=row.customer_id,
            app_id=target.app_id,
            actor_app_id=source.app_id,
            occurred_at=to_timestamp(now),
            click_id=click_id,
        ),
    )
    return issued
