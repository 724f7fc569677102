"""Customers and their app accounts: contact data kept as a keyed hash and a masked form only."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Integer, Update, bindparam, case
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.identity.models import AppAccount, Customer
from services.runtime.db import read_session
from services.runtime.editions import EDITIONS
from services.runtime.errors import InvalidInput, NotFound

_PHONE = re.compile(r"^\+?[0-9]{7,15}$")
_BRANCH = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


def new_customer_id() -> str:
    """A random internal id: nothing about the customer can be read from it."""
    return "cus_" + secrets.token_hex(10)


def phone_hash(*, pepper: str, phone: str) -> str:
    """HMAC-SHA256 of the digits under the pepper: matchable, not reversible without the pepper."""
    digits = phone.lstrip("+")
    return hmac.new(pepper.encode(), f"phone|{digits}".encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138******78`."""
    digits = phone.lstrip("+")
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


@dataclass(frozen=True)
class ContactUpdate:
    """Attributes an app backend may assert at sign-in (all optional)."""

    phone: str = ""
    branch: str = ""
    editions: tuple[str, ...] = ()


def contact_update_from_claims(claims: dict[str, object]) -> ContactUpdate:
    """Validate the optional customer attributes of an assertion."""
    phone = str(claims.get("phone_number") or "")
    branch = str(claims.get("branch") or "")
    editions = claims.get("editions") or []
    if phone and not _PHONE.match(phone):
        raise InvalidInput("invalid_phone", "phone_number must be 7-15 digits")
    if branch and not _BRANCH.match(branch):
        raise InvalidInput("invalid_branch", "branch must be a lowercase slug")
    if not isinstance(editions, list) or not set(editions) <= set(EDITIONS):
        raise InvalidInput("invalid_edition", f"editions must be among {', '.join(EDITIONS)}")
    return ContactUpdate(phone=phone, branch=branch, editions=tuple(editions))


def contact_columns(update: ContactUpdate, *, pepper: str) -> dict[str, object]:
    """The customer's columns an app's assertion sets (what it asserted; nothing else changes)."""
    columns: dict[str, object] = {}
    if update.phone:
        columns["phone_hash"] = phone_hash(pepper=pepper, phone=update.phone)
        columns["phone_masked"] = mask_phone(update.phone)
    if update.branch:
        columns["branch"] = update.branch
    if update.editions:
        columns["editions"] = sorted(update.editions)
    return columns


def apply_update(customer: Customer, update: ContactUpdate, *, pepper: str, assurance_level: int) -> None:
    """Record what the app asserted; the assurance level only ever rises."""
    customer.assurance_level = max(customer.assurance_level, assurance_level)
    for name, value in contact_columns(update, pepper=pepper).items():
        setattr(customer, name, value)


def update_account_holder(
    session: Session,
    *,
    app_id: str,
    app_user_id: str,
    update: ContactUpdate,
    pepper: str,
    assurance_level: int,
) -> str | None:
    """`apply_update` on the customer behind an app account, in ONE statement of the caller's
    transaction: the customer's id, or None when the app account is not known yet."""
    contact = contact_columns(update, pepper=pepper)
    statement = _update_holder(tuple(contact))
    values = {"app_id": app_id, "app_user_id": app_user_id, "level": assurance_level, **contact}
    customer_id: str | None = session.connection().execute(statement, values).scalar()
    return customer_id


def linked_app_ids(session: Session, customer_id: str) -> list[str]:
    stmt = (
        select(AppAccount.app_id)
        .where(AppAccount.customer_id == customer_id)
        .order_by(col(AppAccount.app_id))
    )
    return sorted(set(session.exec(stmt)))


def get_customer(*, engine: Engine, customer_id: str) -> tuple[Customer, list[str]]:
    """A customer and the apps it has accounts in."""
    with read_session(engine) as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer_not_found", "no such customer")
        return customer, linked_app_ids(session, customer_id)


def resolve_app_account(*, engine: Engine, app_id: str, app_user_id: str) -> str:
    """The customer behind an app-local account."""
    with read_session(engine) as session:
        account = session.get(AppAccount, (app_id, app_user_id))
    if account is None:
        raise NotFound("app_account_not_found", "no such app account")
    return account.customer_id


@cache
def _update_holder(contact: tuple[str, ...]) -> Update:
    """`update_account_holder`'s statement for one set of asserted columns, built once (bound per call)."""
    account_holder = (
        select(AppAccount.customer_id)
        .where(AppAccount.app_id == bindparam("app_id"), AppAccount.app_user_id == bindparam("app_user_id"))
        .scalar_subquery()
    )
    level, wanted = col(Customer.assurance_level), bindparam("level", type_=Integer)
    return (
        sql_update(Customer)
        .where(col(Customer.customer_id) == account_holder)
        .values(
            assurance_level=case((level < wanted, wanted), else_=level),
            **{name: bindparam(name) for name in contact},
        )
        .returning(col(Customer.customer_id))
    )
