"""Fixtures for reach: a migrated reach database (SQLite, or PostgreSQL under -m postgres) and an engine."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy.engine import Engine

from services.reach import profiles, strategies
from services.reach.engine import ReachEngine
from services.reach.matching import TriggerEvent
from services.reach.peers import Peers
from services.reach.policy import set_policy
from services.reach.profiles import CustomerAttributes
from services.reach.touchpoints import SandboxProvider
from services.runtime.db import make_engine, migrate, transaction
from services.runtime.grpc_client import open_channel
from services.runtime.pki import identity_for
from tests.support.databases import copy_migrated_sqlite, fresh_database_url
from tools.stack import free_port

AUTHOR = strategies.Actor(operator_id="op-anna")
REVIEWER = strategies.Actor(operator_id="op-ben")
# 2026-03-02 is a Monday; Asia/Shanghai is UTC+8 all year (no DST), so local times are exact.
SHANGHAI = "Asia/Shanghai"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time in March 2026, as aware UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def make_reach_db(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine, "reach")
    return engine


@pytest.fixture
def reach_db(tmp_path: Path) -> Iterator[Engine]:
    copy_migrated_sqlite("reach", tmp_path / "reach.db")
    engine = make_reach_db(f"sqlite:///{tmp_path / 'reach.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_reach_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database_url(request.param, tmp_path, service="reach") as url:
        engine = make_reach_db(url)
        yield engine
        engine.dispose()


# Reach's own development certificate for the channels below (nothing ever answers on them).
_PKI_DIR = Path(tempfile.gettempdir()) / f"lattice-reach-tests-pki-{os.getuid()}"


class UnreachablePeers:
    """Channels to ports where nothing listens: identity, content and benefits are down (UNAVAILABLE)."""

    def __init__(self) -> None:
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.port = free_port()
        self.identity = identity_for("reach", pki_dir=_PKI_DIR, create=True)

    def channel(self, name: str) -> grpc.aio.Channel:
        if name not in self.channels:
            self.channels[name] = open_channel(
                f"127.0.0.1:{self.port}", peer=name, identity=self.identity, default_timeout_s=2
            )
        return self.channels[name]


@pytest.fixture
async def reach(reach_db: Engine) -> ReachEngine:
    return ReachEngine(
        engine=reach_db, peers=Peers(UnreachablePeers().channel), providers=sandbox_providers()
    )


def sandbox_providers() -> dict:
    return {c: SandboxProvider() for c in ("push", "sms", "partner")}


def seed_customer(engine: Engine, customer_id: str, *, now: datetime, **attrs: object) -> None:
    """What identity would tell about a customer (attributes checked now, so no lookup is made)."""
    attributes = CustomerAttributes(customer_id=customer_id, time_zone=SHANGHAI, **attrs)
    with transaction(engine) as session:
        profiles.apply_attributes(session, attributes, customer_id=customer_id, now=now)


def live_strategy(engine: Engine, **spec: object) -> str:
    """Create, approve (by someone else) and activate a strategy; return its id."""
    data = {
        "name": "salary day",
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": "Salary in: ${amount}", "body": "Move it to a deposit"},
        "trigger": {"event_type": "salary_credited"},
        **spec,
    }
    created = strategies.create_strategy(engine=engine, actor=AUTHOR, spec_data=data)
    strategies.change_status(engine=engine, actor=REVIEWER, strategy_id=created.strategy_id, action="approve")
    strategies.change_status(engine=engine, actor=AUTHOR, strategy_id=created.strategy_id, action="activate")
    return created.strategy_id


def event(
    customer_id: str, event_id: str, *, at: datetime, type: str = "salary_credited", **props: str
) -> TriggerEvent:
    return TriggerEvent(
        event_id=event_id,
        customer_id=customer_id,
        app_id="mbank",
        type=type,
        occurred_at=at,
        properties=props,
    )


def policy(engine: Engine, **overrides: object) -> None:
    set_policy(engine=engine, data=overrides, operator_id="op-admin")
