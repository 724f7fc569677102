"""The registry of the app matrix and of partners: business rules, no transport."""

from __future__ import annotations

import re

from lattice.identity.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.identity.admin_trail import ChangedBy, record
from services.identity.models import App, AppCredential, Partner, PartnerSigningKey
from services.identity.partner_keys import add_partner_key
from services.identity.secrets_hashing import new_secret
from services.runtime.clock import to_timestamp
from services.runtime.db import read_session, transaction
from services.runtime.editions import EDITIONS
from services.runtime.errors import AlreadyExists, InvalidInput, NotFound
from services.runtime.outbox import record_event
from services.runtime.paging import read_page
from services.runtime.ssrf import OutboundSettings, check_postback_url

ROLES = ("core", "main", "vertical")
RESERVED_PREFIX = "lattice-"
_ID = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


def _check_id(value: str, what: str) -> None:
    if not _ID.match(value):
        raise InvalidInput(f"invalid_{what}", f"{what} must be 2-40 lowercase letters, digits, '-' or '_'")


def register_app(
    *, engine: Engine, app: App, client_secret: str = "", by: ChangedBy | None = None
) -> tuple[App, str]:
    """Add an app to the matrix; returns it with the secret its backend signs assertions with."""
    _check_id(app.app_id, "app_id")
    if app.app_id.startswith(RESERVED_PREFIX):
        # lattice-ops, lattice-identity...: audiences of tokens that are not customers' never name an app
        raise InvalidInput("reserved_app_id", f"app ids starting with {RESERVED_PREFIX} are reserved")
    if app.role not in ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {', '.join(ROLES)}")
    unknown = set(app.editions) - set(EDITIONS)
    if unknown:
        raise InvalidInput("invalid_edition", f"unknown editions: {', '.join(sorted(unknown))}")
    with transaction(engine) as session:
        if session.get(App, app.app_id) is not None:
            raise AlreadyExists("app_exists", f"app {app.app_id} is already registered")
        if client_secret and len(client_secret) < 32:
            raise InvalidInput("weak_secret", "client secrets have at least 32 characters")
        secret = client_secret or new_secret()
        session.add(app)
        session.add(AppCredential(app_id=app.app_id, secret=secret.encode()))
        detail = f"{app.name}; role {app.role}; editions {', '.join(app.editions) or '-'}"
        record(session, by=by, action="app_registered", entity="app", entity_id=app.app_id, detail=detail)
        record_event(
            session,
            "identity.app.registered",
            events_pb2.AppRegistered(
                app_id=app.app_id,
                legal_entity=app.legal_entity,
                editions=app.editions,
                occurred_at=to_timestamp(app.created_at),
            ),
        )
    return app, secret


def get_app(*, engine: Engine, app_id: str) -> tuple[App, bytes]:
    """An app and its assertion secret."""
    with read_session(engine) as session:
        app = session.get(App, app_id)
        credential = session.get(AppCredential, app_id)
    if app is None or credential is None:
        raise NotFound("app_not_found", f"no app {app_id}")
    return app, credential.secret


def list_apps(*, engine: Engine, size: int, token: str) -> tuple[list[App], str]:
    """A page of the registered apps, by id."""
    with read_session(engine) as session:
        return read_page(session, select(App), [(col(App.app_id), False)], token=token, size=size)


def register_partner(
    *,
    engine: Engine,
    partner: Partner,
    key_id: str = "",
    secret: bytes = b"",
    by: ChangedBy | None = None,
) -> tuple[Partner, PartnerSigningKey]:
    """Add a partner platform with its first signing key; a postback URL passes the SSRF guard first."""
    _check_id(partner.partner_id, "partner_id")
    if not partner.name.strip():
        raise InvalidInput("invalid_name", "name must not be empty")
    if partner.postback_url:
        check_postback_url(partner.postback_url, allowlist=OutboundSettings().postback_allowlist)
    with transaction(engine) as session:
        if session.get(Partner, partner.partner_id) is not None:
            raise AlreadyExists("partner_exists", f"partner {partner.partner_id} is already registered")
        session.add(partner)
        key = add_partner_key(session, partner_id=partner.partner_id, key_id=key_id, secret=secret)
        record(
            session,
            by=by,
            action="partner_registered",
            entity="partner",
            entity_id=partner.partner_id,
            detail=f"{partner.name}; scopes {', '.join(partner.allowed_scopes) or '-'}; key {key.key_id}",
        )
        record_event(
            session,
            "identity.partner.registered",
            events_pb2.PartnerRegistered(
                partner_id=partner.partner_id,
                name=partner.name,
                sector=partner.sector,
                postback_url=partner.postback_url,
                occurred_at=to_timestamp(partner.created_at),
            ),
        )
    return partner, key


def get_partner(*, engine: Engine, partner_id: str) -> Partner:
    with read_session(engine) as session:
        partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("partner_not_found", f"no partner {partner_id}")
    return partner


def list_partners(*, engine: Engine, limit: int, after: str = "") -> list[Partner]:
    with read_session(engine) as session:
        stmt = select(Partner).where(col(Partner.partner_id) > after).order_by(col(Partner.partner_id))
        return list(session.exec(stmt.limit(limit)))
