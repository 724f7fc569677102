"""Retention on SQLite and PostgreSQL: old bookkeeping rows go in batches; nothing else does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from services.content.models import ServeCount
from services.content.serving import SERVE_COUNT_RETENTION, local_day
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, migrate, read_session, transaction
from services.runtime.outbox import OutboxEvent, ProcessedMessage
from services.runtime.retention import platform_rules, purge
from tests.support.databases import DATABASE_KINDS, fresh_database_url

pytestmark = pytest.mark.parametrize("kind", DATABASE_KINDS)


@pytest.fixture
def engine(kind: str, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database_url(kind, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine, "content")
        yield engine
        engine.dispose()


def test_published_outbox_rows_and_old_consumer_records_go_unpublished_rows_stay(
    engine: Engine, kind: str
) -> None:
    now = utcnow()
    days = timedelta(days=1)
    with transaction(engine) as session:
        for i in range(5):  # published 10 days ago: past the 7 days
            session.add(_event(f"old-{i}", created=now - 10 * days, published=now - 10 * days))
        session.add(_event("recent", created=now - 2 * days, published=now - 2 * days))
        session.add(_event("stuck", created=now - 30 * days, published=None))  # never relayed
        for i in range(3):
            session.add(ProcessedMessage(consumer="c", event_id=f"old-{i}", processed_at=now - 40 * days))
        session.add(ProcessedMessage(consumer="c", event_id="recent", processed_at=now - days))
    outbox, processed = platform_rules(outbox_days=7, processed_days=30)

    assert purge(engine, outbox, now=now, batch=2) == 5  # three batches
    assert purge(engine, processed, now=now, batch=2) == 3
    with read_session(engine) as session:
        assert sorted(e.id for e in session.exec(select(OutboxEvent))) == ["recent", "stuck"]
        assert [m.event_id for m in session.exec(select(ProcessedMessage))] == ["recent"]
    assert purge(engine, outbox, now=now) == 0


def test_frequency_cap_counts_older_than_yesterday_go(engine: Engine, kind: str) -> None:
    now = utcnow()
    days = [local_day(now - timedelta(days=n)) for n in range(4)]  # today, yesterday, 2 and 3 days ago
    with transaction(engine) as session:
        for day in days:
            for placement in ("p1", "p2"):
                session.add(
                    ServeCount(
                        customer_id="cus_1", day=day, placement_id=placement, slot_key="mbank/x", count=1
                    )
                )
    assert purge(engine, SERVE_COUNT_RETENTION, now=now, batch=3) == 4
    with read_session(engine) as session:
        assert sorted({c.day for c in session.exec(select(ServeCount))}) == sorted(days[:2])


def _event(event_id: str, *, created, published) -> OutboxEvent:
    return OutboxEvent(
        id=event_id,
        subject="content.item.published",
        event_type="t",
        payload=b"x",
        created_at=created,
        published_at=published,
    )
