"""Frequency caps, the contact budget and channel send rates as atomic conditional counters
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from services.reach.models import ContactCounter, SendWindow
from services.runtime.db import insert_ignore
from services.runtime.retention import Rule

ALL_CHANNELS = "*"

# Counts no rule reads again: send windows after an hour, per-day contact counts after three days
# (a customer's local day is never more than a day from UTC's).
RETENTION = [
    Rule(
        "send_window",
        SendWindow,
        (SendWindow.channel, SendWindow.second),
        lambda now: col(SendWindow.second) < int(now.timestamp()) - 3600,
    ),
    Rule(
        "contact_counter",
        ContactCounter,
        (ContactCounter.customer_id, ContactCounter.channel, ContactCounter.day),
        lambda now: col(ContactCounter.day) < (now - timedelta(days=3)).date().isoformat(),
    ),
]


def take(session: Session, *, customer_id: str, channel: str, day: str, cap: int) -> bool:
    """Count one contact unless `cap` is reached; the conditional update makes it race-free."""
    if cap <= 0:
        return True
    insert_ignore(session, ContactCounter, customer_id=customer_id, channel=channel, day=day, count=0)
    result = session.execute(
        update(ContactCounter)
        .where(
            col(ContactCounter.customer_id) == customer_id,
            col(ContactCounter.channel) == channel,
            col(ContactCounter.day) == day,
            col(ContactCounter.count) < cap,
        )
        .values(count=ContactCounter.count + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


def give_back(session: Session, *, customer_id: str, channel: str, day: str) -> None:
    """Undo a `take` in the same transaction (another rule said no after the count)."""
    session.execute(
        update(ContactCounter)
        .where(
            col(ContactCounter.customer_id) == customer_id,
            col(ContactCounter.channel) == channel,
            col(ContactCounter.day) == day,
            col(ContactCounter.count) > 0,
        )
        .values(count=ContactCounter.count - 1)
    )


def take_send_slot(session: Session, *, channel: str, second: int, rate: int) -> bool:
    """Count one send on `channel` in this (epoch) second unless `rate` sends were counted in it
    already, by this replica or any other."""
    insert_ignore(session, SendWindow, channel=channel, second=second, count=0)
    result = session.execute(
        update(SendWindow)
        .where(
            col(SendWindow.channel) == channel,
            col(SendWindow.second) == second,
            col(SendWindow.count) < rate,
        )
        .values(count=SendWindow.count + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


def used(session: Session, *, customer_id: str, channel: str, day: str) -> int:
    row = session.get(ContactCounter, (customer_id, channel, day))
    return row.count if row else 0
