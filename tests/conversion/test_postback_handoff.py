"""A delivery queued by a write unit is leased to this process's sender in the same transaction and
handed to it after the commit (no claiming transaction, no poll): sent once, retried with the same
id, never sent for a unit that failed, and never lost when the process stops before sending it.

Real SQLite file with conversion's migrations, the real sender and a real HTTP receiver; identity is
unreachable (the postback then goes without the pairwise id, as the sender's policy says)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from standardwebhooks import Webhook

from services.conversion.config import ConversionSettings
from services.conversion.models import PostbackDelivery, PostbackEndpoint
from services.conversion.postback_delivery import PostbackSender
from services.conversion.postbacks import LocalSender, queue_delivery, send_here
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, migrate, read_session, transaction
from services.runtime.write_queue import write
from tests.conversion.conftest import eventually
from tests.conversion.receiver import Receiver, running_receiver
from tools.stack import free_port

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="


def database(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'conversion.db'}")
    migrate(engine, "conversion")
    return engine


def settings(receiver: Receiver, *, poll_s: float = 3600.0) -> ConversionSettings:
    return ConversionSettings(
        postback_allowlist=[f"127.0.0.1:{receiver.port}"],
        postback_backoff_s=0.1,
        postback_max_attempts=3,
        postback_timeout_s=2.0,
        # an hour: anything sent within the test was handed over or woken, not polled
        postback_poll_interval_s=poll_s,
    )


def endpoint(engine: Engine, receiver: Receiver, path: str) -> str:
    partner = "p-" + uuid.uuid4().hex[:8]
    with transaction(engine) as session:
        session.add(PostbackEndpoint(partner_id=partner, url=receiver.url(path), secret=SECRET))
    return partner


def milestone(partner: str) -> PostbackDelivery:
    return PostbackDelivery(
        delivery_id="msg_" + uuid.uuid4().hex,
        partner_id=partner,
        campaign_id="c-1",
        customer_id="cust-internal-1",
        milestone="activated",
        kind="acquisition",
        click_id="k-1",
        occurred_at=utcnow(),
    )


def row(engine: Engine, delivery_id: str) -> PostbackDelivery | None:
    with read_session(engine) as session:
        return session.get(PostbackDelivery, delivery_id)


@asynccontextmanager
async def running_sender(engine: Engine, config: ConversionSettings) -> AsyncIterator[PostbackSender]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}")  # identity: nobody listens
    sender = PostbackSender(engine=engine, settings=config, identity=channel)
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await channel.close()


async def queue(engine: Engine, delivery: PostbackDelivery, *, fail: bool = False) -> None:
    def unit(session: Session) -> None:
        queue_delivery(session, delivery)
        if fail:
            raise RuntimeError("the milestone's transaction failed")

    await write(engine, unit)


async def test_a_queued_delivery_is_sent_once_after_its_commit_without_a_claim(tmp_path: Path) -> None:
    engine = database(tmp_path)
    async with running_receiver() as receiver, running_sender(engine, settings(receiver)):
        partner = endpoint(engine, receiver, "/hooks")
        failed = milestone(partner)
        with pytest.raises(RuntimeError):
            await queue(engine, failed, fail=True)
        delivery = milestone(partner)
        await queue(engine, delivery)
        # leased to this process's sender in the milestone's own transaction: no other sender (nor
        # this one's claiming loop) takes it before the lease ends
        queued = row(engine, delivery.delivery_id)
        assert queued is not None and queued.next_attempt_at > utcnow() + timedelta(seconds=5)

        async def delivered() -> PostbackDelivery:
            found = row(engine, delivery.delivery_id)
            assert found is not None and found.status == "delivered"
            return found

        booked = await eventually(delivered, timeout=5.0)
        await asyncio.sleep(0.3)  # nothing else arrives
        attempts = receiver.on("/hooks")
        assert booked.attempts == 1 and len(attempts) == 1
        assert attempts[0].headers["webhook-id"] == delivery.delivery_id
        payload = Webhook(SECRET).verify(attempts[0].body, attempts[0].headers)
        assert payload["data"]["milestone"] == "activated" and "pairwise_id" not in payload["data"]
        assert "cust-internal-1" not in attempts[0].body
        assert row(engine, failed.delivery_id) is None  # the failed unit's delivery: neither kept nor sent
    engine.dispose()


async def test_a_handed_delivery_that_fails_is_retried_on_its_due_time_with_the_same_id(
    tmp_path: Path,
) -> None:
    engine = database(tmp_path)
    async with running_receiver() as receiver, running_sender(engine, settings(receiver)):
        receiver.answer("/flaky", 503, 503)
        delivery = milestone(endpoint(engine, receiver, "/flaky"))
        await queue(engine, delivery)

        async def delivered() -> PostbackDelivery:
            found = row(engine, delivery.delivery_id)
            assert found is not None and found.status == "delivered"
            return found

        assert (await eventually(delivered, timeout=5.0)).attempts == 3
        attempts = receiver.on("/flaky")
        assert [a.headers["webhook-id"] for a in attempts] == [delivery.delivery_id] * 3
    engine.dispose()


async def test_a_delivery_handed_to_a_process_that_stopped_is_sent_by_another_after_the_lease(
    tmp_path: Path,
) -> None:
    engine = database(tmp_path)
    async with running_receiver() as receiver:
        partner = endpoint(engine, receiver, "/later")
        handed: list[str] = []
        # this process's sender is gone before it sends what was handed to it
        send_here(engine, LocalSender(take=handed.append, lease=timedelta(seconds=1)))
        delivery = milestone(partner)
        await queue(engine, delivery)
        assert handed == [delivery.delivery_id]
        await asyncio.sleep(0.3)
        assert receiver.on("/later") == []
        # another process (its own engine on the same file) claims it once the lease has ended
        other = database(tmp_path)
        async with running_sender(other, settings(receiver, poll_s=0.2)):

            async def delivered() -> PostbackDelivery:
                found = row(other, delivery.delivery_id)
                assert found is not None and found.status == "delivered"
                return found

            assert (await eventually(delivered, timeout=5.0)).attempts == 1
        assert [a.headers["webhook-id"] for a in receiver.on("/later")] == [delivery.delivery_id]
        other.dispose()
    engine.dispose()
