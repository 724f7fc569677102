"""Nothing lost: an event committed with a change reaches the consumer once, even across a crash."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import grpc
import nats
import pytest
from lattice.conversion.v1 import conversion_pb2, conversion_pb2_grpc
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc

from tests.support.channels import stack_channel
from tools.journey import wait_until
from tools.stack import Stack


def _register_partner(stack: Stack, partner_id: str) -> None:
    with stack_channel(stack, "identity") as channel:
        identity_pb2_grpc.RegistryServiceStub(channel).RegisterPartner(
            identity_pb2.RegisterPartnerRequest(
                partner=identity_pb2.Partner(partner_id=partner_id, name="Ride Co", sector="mobility")
            ),
            timeout=5,
        )


def _conversion_knows(stack: Stack, partner_id: str) -> bool:
    with stack_channel(stack, "conversion") as channel:
        try:
            conversion_pb2_grpc.ConversionServiceStub(channel).GetPartnerProfile(
                conversion_pb2.GetPartnerProfileRequest(partner_id=partner_id), timeout=5
            )
            return True
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return False


def _stream_count(nats_url: str, subject: str) -> int:
    async def count() -> int:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info("IDENTITY", subjects_filter=subject)
            return sum((info.state.subjects or {}).values())
        finally:
            await nc.close()

    return asyncio.run(count())


def _processed_rows(db_path: str, consumer: str) -> int:
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT count(*) FROM processed_message WHERE consumer = ?", (consumer,)
        ).fetchone()[0]


def test_event_committed_before_a_crash_is_relayed_after_restart_exactly_once(private_stack: Stack) -> None:
    stack = private_stack
    stack.start_nats()
    for service in ("identity", "conversion"):
        stack.start_service(service, env={"OUTBOX_RELAY_ENABLED": "false"} if service == "identity" else None)
        stack.wait_service(service)

    _register_partner(stack, "ride")  # committed, with its event, but never relayed
    time.sleep(1.0)
    assert not _conversion_knows(stack, "ride")

    stack.restart("identity", kill=True, env={"OUTBOX_RELAY_ENABLED": "true"})  # kill -9, then start again
    stack.wait_service("identity")
    wait_until("conversion to know ride", lambda: _conversion_knows(stack, "ride"))

    subject = "identity.partner.registered"
    assert _stream_count(stack.config.nats_url, subject) == 1
    conversion_db = str(stack.config.var_dir / "conversion.db")
    assert _processed_rows(conversion_db, "conversion-partners") == 1

    # A relay that crashed after publishing but before marking the row publishes again:
    # JetStream drops the duplicate (Nats-Msg-Id) and the consumer applies nothing twice.
    with sqlite3.connect(stack.config.var_dir / "identity.db") as db:
        db.execute("UPDATE outbox_event SET published_at = NULL")
    _register_partner(stack, "food")  # wakes the relay
    wait_until("conversion to know food", lambda: _conversion_knows(stack, "food"))
    time.sleep(0.5)
    assert _stream_count(stack.config.nats_url, subject) == 2
    assert _processed_rows(conversion_db, "conversion-partners") == 2


@pytest.mark.parametrize("max_deliver", [3])
async def test_a_message_that_always_fails_is_dead_lettered_after_max_deliver(
    nats_url: str, max_deliver: int
) -> None:
    from services.runtime.bus import Bus, Delivery

    bus = await Bus.connect(nats_url, name="dlq-test")
    attempts: list[int] = []

    async def always_fails(delivery: Delivery) -> None:
        attempts.append(delivery.num_delivered)
        raise RuntimeError("cannot apply")

    try:
        await bus.consume(
            durable="dlq-test", subject="reach.dlqtest.poison", handler=always_fails, max_deliver=max_deliver
        )
        await bus.publish(
            "reach.dlqtest.poison", b"payload", event_id="evt-poison-1", event_type="test.Poison"
        )
        dead = await bus.js.pull_subscribe("dlq.dlq-test.>", durable="dlq-test-reader", stream="DLQ")
        msgs = await dead.fetch(1, timeout=15)
        assert attempts == list(range(1, max_deliver + 1))
        assert msgs[0].subject == "dlq.dlq-test.reach.dlqtest.poison"
        assert msgs[0].data == b"payload"
        assert msgs[0].headers["Lattice-Original-Event-Id"] == "evt-poison-1"
        assert msgs[0].headers["Lattice-Error"] == "RuntimeError"
        await msgs[0].ack()
        await asyncio.sleep(1.0)
        assert len(attempts) == max_deliver  # terminated: never delivered again
    finally:
        await bus.close()
