"""What a signed-in customer sees of their own identity: masked contact data, never raw numbers."""

from __future__ import annotations

from lattice.identity.v1 import identity_pb2 as pb
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from services.identity.models import AppAccount, Customer
from services.identity.reads import OneStatementRead
from services.identity.recognition import Caller
from services.runtime.errors import NotFound

# The customer joined to each of their app accounts, earliest linked first: ONE statement answers
# the profile (the account in the calling app and every linked app) from one snapshot.
_PROFILE = OneStatementRead(
    select(
        col(Customer.assurance_level),
        col(Customer.phone_masked),
        col(Customer.editions),
        col(Customer.branch),
        col(AppAccount.app_id),
        col(AppAccount.app_user_id),
    )
    .join(AppAccount, col(AppAccount.customer_id) == col(Customer.customer_id))
    .where(col(Customer.customer_id) == bindparam("customer_id"))
    .order_by(col(AppAccount.linked_at), col(AppAccount.app_id), col(AppAccount.app_user_id))
)


def customer_profile(*, engine: Engine, caller: Caller) -> pb.CustomerProfile:
    """The caller's profile in the calling app (its account there: the earliest linked)."""
    rows = _PROFILE.rows(engine, customer_id=caller.customer_id)
    account = next((row for row in rows if row[4] == caller.app_id), None)
    if account is None:  # no such customer, or no account of theirs in this app
        raise NotFound("customer_not_found", "no such customer in this app")
    assurance_level, phone_masked, editions, branch, app_id, app_user_id = account
    return pb.CustomerProfile(
        app_id=app_id,
        app_user_id=app_user_id,
        assurance_level=assurance_level,
        phone_masked=phone_masked,
        editions=editions,
        branch=branch,
        linked_app_ids=sorted({row[4] for row in rows}),
    )
