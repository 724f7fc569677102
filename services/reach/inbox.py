"""The in-app inbox: a customer reads their own messages in one app and marks them read."""

from __future__ import annotations

from datetime import datetime

from lattice.reach.v1 import events_pb2
from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.reach.models import Delivery, InboxMessage, ProviderDelivery
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import NotFound
from services.runtime.outbox import record_event


def _visible(customer_id: str, app_id: str, now: datetime):  # type: ignore[no-untyped-def]  # a SQLAlchemy where-clause whose type sqlmodel does not export
    return (
        InboxMessage.customer_id == customer_id,
        InboxMessage.app_id == app_id,
        or_(col(InboxMessage.expires_at).is_(None), col(InboxMessage.expires_at) > now),
    )


def list_messages(
    *,
    engine: Engine,
    customer_id: str,
    app_id: str,
    unread_only: bool,
    limit: int,
    before: str = "",
    now: datetime | None = None,
) -> tuple[list[InboxMessage], int]:
    """Newest first; `before` is the last message id of the previous page. Also the unread count."""
    now = now or utcnow()
    with read_session(engine) as session:
        stmt = select(InboxMessage).where(*_visible(customer_id, app_id, now))
        if unread_only:
            stmt = stmt.where(col(InboxMessage.read_at).is_(None))
        if before:
            anchor = session.get(InboxMessage, before)
            if anchor is None or anchor.customer_id != customer_id or anchor.app_id != app_id:
                raise NotFound("page_not_found", "the page token is not valid")
            stmt = stmt.where(
                or_(
                    col(InboxMessage.created_at) < anchor.created_at,
                    (col(InboxMessage.created_at) == anchor.created_at)
                    & (col(InboxMessage.message_id) < before),
                )
            )
        order = (col(InboxMessage.created_at).desc(), col(InboxMessage.message_id).desc())
        messages = list(session.exec(stmt.order_by(*order).limit(limit)))
        unread_stmt = (
            select(func.count())
            .select_from(InboxMessage)
            .where(*_visible(customer_id, app_id, now), col(InboxMessage.read_at).is_(None))
        )
        unread = session.exec(unread_stmt).one()
    return messages, int(unread)


def mark_read(
    *, engine: Engine, customer_id: str, app_id: str, message_id: str, now: datetime | None = None
) -> InboxMessage:
    """Mark one of the customer's own messages read (someone else's is simply not found)."""
    now = now or utcnow()
    with transaction(engine) as session:
        message = session.get(InboxMessage, message_id, with_for_update=True, populate_existing=True)
        if message is None or message.customer_id != customer_id or message.app_id != app_id:
            raise NotFound("message_not_found", f"no message {message_id}")
        if message.read_at is None:
            message.read_at = now
            session.add(message)
            delivery = session.get(Delivery, message_id)
            if delivery is not None and delivery.opened_at is None:
                delivery.opened_at = now
                session.add(delivery)
                record_event(
                    session,
                    "reach.message.opened",
                    events_pb2.MessageOpened(
                        delivery_id=delivery.delivery_id,
                        strategy_id=delivery.strategy_id,
                        customer_id=customer_id,
                        channel=delivery.channel,
                        occurred_at=to_timestamp(now),
                    ),
                )
    return message


def addressed_app(session: Session, delivery_id: str) -> str:
    """The app a message was shown in or pushed to ("" when it went to no app, e.g. SMS)."""
    message = session.get(InboxMessage, delivery_id)
    if message is not None:
        return message.app_id
    handed = session.get(ProviderDelivery, delivery_id)
    return handed.payload.get("app_id", "") if handed is not None else ""


def mark_opened(*, engine: Engine, customer_id: str, app_id: str, delivery_id: str, now: datetime) -> bool:
    """A message was opened, as reported by the customer's app it was addressed to (`message_opened`)."""
    with transaction(engine) as session:
        delivery = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
        if delivery is None or delivery.customer_id != customer_id or delivery.opened_at is not None:
            return False
        addressed = addressed_app(session, delivery_id)
        if addressed and addressed != app_id:
            return False
        delivery.opened_at = now
        session.add(delivery)
        record_event(
            session,
            "reach.message.opened",
            events_pb2.MessageOpened(
                delivery_id=delivery_id,
                strategy_id=delivery.strategy_id,
                customer_id=customer_id,
                channel=delivery.channel,
                occurred_at=to_timestamp(now),
            ),
        )
    return True
