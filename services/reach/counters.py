"""Frequency caps and the contact budget as atomic conditional counters (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from services.reach.models import ContactCounter

ALL_CHANNELS = "*"


def _ensure_row(session: Session, *, customer_id: str, channel: str, day: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ContactCounter).values(customer_id=customer_id, channel=channel, day=day, count=0)
    session.execute(stmt.on_conflict_do_nothing())


def take(session: Session, *, customer_id: str, channel: str, day: str, cap: int) -> bool:
    """Count one contact unless `cap` is reached; the conditional update makes it race-free."""
    if cap <= 0:
        return True
    _ensure_row(session, customer_id=customer_id, channel=channel, day=day)
    result = session.execute(
        update(ContactCounter)
        .where(
            ContactCounter.customer_id == customer_id,  # type: ignore[arg-type]
            ContactCounter.channel == channel,  # type: ignore[arg-type]
            ContactCounter.day == day,  # type: ignore[arg-type]
            ContactCounter.count < cap,  # type: ignore[arg-type]
        )
        .values(count=ContactCounter.count + 1)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def give_back(session: Session, *, customer_id: str, channel: str, day: str) -> None:
    """Undo a `take` in the same transaction (another rule said no after the count)."""
    session.execute(
        update(ContactCounter)
        .where(
            ContactCounter.customer_id == customer_id,  # type: ignore[arg-type]
            ContactCounter.channel == channel,  # type: ignore[arg-type]
            ContactCounter.day == day,  # type: ignore[arg-type]
            ContactCounter.count > 0,  # type: ignore[arg-type]
        )
        .values(count=ContactCounter.count - 1)
    )


def used(session: Session, *, customer_id: str, channel: str, day: str) -> int:
    row = session.get(ContactCounter, (customer_id, channel, day))
    return row.count if row else 0
