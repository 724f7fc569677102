"""What a signed-in customer sees of their own identity: masked contact data, never raw numbers."""

from __future__ import annotations

from lattice.identity.v1 import identity_pb2 as pb
from sqlalchemy.engine import Engine

from services.identity.customers import account_in_app, linked_app_ids
from services.identity.models import Customer
from services.identity.recognition import Caller
from services.runtime.db import read_session
from services.runtime.errors import NotFound
from services.runtime.proto_mapping import to_proto


def customer_profile(*, engine: Engine, caller: Caller) -> pb.CustomerProfile:
    """The caller's profile in the calling app."""
    with read_session(engine) as session:
        customer = session.get(Customer, caller.customer_id)
        account = account_in_app(session, customer_id=caller.customer_id, app_id=caller.app_id)
        if customer is None or account is None:
            raise NotFound("customer_not_found", "no such customer in this app")
        return to_proto(
            pb.CustomerProfile,
            customer,
            app_id=caller.app_id,
            app_user_id=account.app_user_id,
            linked_app_ids=linked_app_ids(session, caller.customer_id),
        )
