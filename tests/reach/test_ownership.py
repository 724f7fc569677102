"""Messages and deliveries belong to one customer and to the app they were addressed to."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from services.reach import inbox
from services.reach.engine import ReachEngine
from services.reach.models import Delivery
from services.runtime.db import read_session
from services.runtime.errors import NotFound
from tests.reach.conftest import event, live_strategy, local, seed_customer

NOW = local(2, 10)


async def _delivered(reach: ReachEngine, engine: Engine, touchpoint: dict[str, str]) -> Delivery:
    for customer in ("cust-owner", "cust-other"):
        seed_customer(engine, customer, now=NOW, app_ids=("mbank", "life"))
    live_strategy(engine, touchpoints=[touchpoint])
    await reach.handle_event(event("cust-owner", "ev-owner", at=NOW), consumer="t", now=NOW)
    with read_session(engine) as session:
        [delivery] = session.exec(select(Delivery).where(Delivery.customer_id == "cust-owner"))
    assert delivery.status == "delivered", delivery
    return delivery


@pytest.mark.parametrize(
    ("customer_id", "app_id"), [("cust-other", "life"), ("cust-owner", "mbank"), ("cust-other", "mbank")]
)
async def test_an_inbox_message_is_read_only_by_its_customer_in_its_app(
    reach: ReachEngine, reach_db: Engine, customer_id: str, app_id: str
) -> None:
    message_id = (await _delivered(reach, reach_db, {"channel": "inbox", "app_id": "life"})).delivery_id
    with pytest.raises(NotFound):
        inbox.mark_read(
            engine=reach_db, customer_id=customer_id, app_id=app_id, message_id=message_id, now=NOW
        )
    with pytest.raises(NotFound):  # nor can its id serve as a page token elsewhere
        inbox.list_messages(
            engine=reach_db,
            customer_id=customer_id,
            app_id=app_id,
            unread_only=False,
            limit=5,
            before=message_id,
        )
    assert inbox.list_messages(
        engine=reach_db, customer_id=customer_id, app_id=app_id, unread_only=False, limit=5, now=NOW
    ) == ([], 0)
    read = inbox.mark_read(
        engine=reach_db, customer_id="cust-owner", app_id="life", message_id=message_id, now=NOW
    )
    assert read.read_at is not None


@pytest.mark.parametrize(
    ("customer_id", "app_id"), [("cust-other", "life"), ("cust-owner", "mbank"), ("cust-other", "mbank")]
)
async def test_a_push_is_marked_opened_only_from_its_customer_in_its_app(
    reach: ReachEngine, reach_db: Engine, customer_id: str, app_id: str
) -> None:
    delivery_id = (await _delivered(reach, reach_db, {"channel": "push", "app_id": "life"})).delivery_id
    opened = inbox.mark_opened(
        engine=reach_db, customer_id=customer_id, app_id=app_id, delivery_id=delivery_id, now=NOW
    )
    assert opened is False
    with read_session(reach_db) as session:
        assert session.get(Delivery, delivery_id).opened_at is None
    assert inbox.mark_opened(
        engine=reach_db, customer_id="cust-owner", app_id="life", delivery_id=delivery_id, now=NOW
    )
