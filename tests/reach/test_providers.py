"""The webhook provider against a real HTTP receiver: signed posts, retries on 5xx, receipts kept."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from services.reach.config import ReachSettings
from services.reach.engine import ReachEngine
from services.reach.models import Delivery, ProviderDelivery
from services.reach.peers import Peers
from services.reach.touchpoints import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SandboxProvider,
    build_providers,
    sign,
)
from services.runtime.db import read_session
from tests.reach.conftest import UnreachablePeers, event, live_strategy, local, policy, seed_customer

SECRET = "webhook-secret-for-tests-0123456789"


class Receiver(ThreadingHTTPServer):
    """Answers with the queued status codes, then 200; keeps what it received."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/push"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(({k: v for k, v in self.headers.items()}, body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        answer = json.dumps({"id": f"prov-{len(self.server.received)}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_webhook_delivery_is_signed_and_retried_after_a_5xx(
    reach_db: Engine, receiver: Receiver
) -> None:
    settings = ReachSettings(push_webhook_url=receiver.url, webhook_secret=SECRET)
    async with httpx.AsyncClient(timeout=3) as client:
        providers = build_providers(settings, client)
        assert isinstance(providers["sms"], SandboxProvider)
        reach = ReachEngine(
            engine=reach_db,
            peers=Peers(UnreachablePeers().channel),
            providers=providers,
            retry_delay=timedelta(seconds=30),
        )
        now = local(2, 10)
        policy(reach_db, quiet_channels=[])
        seed_customer(reach_db, "cust-1", now=now)
        live_strategy(reach_db, touchpoints=[{"channel": "push", "app_id": "life"}])
        receiver.statuses = [503]
        [delivery_id] = await reach.handle_event(
            event("cust-1", "ev-1", at=now, amount="9"), consumer="t", now=now
        )
        with read_session(reach_db) as session:
            first = session.get(Delivery, delivery_id)
        assert (first.status, first.reason, first.not_before) == (
            "pending",
            "provider_http_503",
            now + timedelta(seconds=30),
        )
        assert await reach.dispatch(delivery_id, now=now + timedelta(seconds=31)) == "delivered"

    headers, body = receiver.received[-1]
    assert len(receiver.received) == 2
    assert headers[SIGNATURE_HEADER] == sign(SECRET.encode(), headers[TIMESTAMP_HEADER], body)
    assert headers["Idempotency-Key"] == delivery_id
    payload = json.loads(body)
    assert (payload["recipient"], payload["app_id"], payload["title"]) == ("cust-1", "life", "Salary in: 9")
    with read_session(reach_db) as session:
        [record] = session.exec(select(ProviderDelivery))
        counted = session.get(Delivery, delivery_id)
    assert (record.provider, record.provider_ref) == ("webhook", "prov-2")
    assert counted.attempts == 2 and counted.counted_day == "2026-03-02"


async def test_partner_channel_waits_while_identity_is_down(reach: ReachEngine, reach_db: Engine) -> None:
    now = local(2, 10)
    policy(reach_db, quiet_channels=[])
    seed_customer(reach_db, "cust-1", now=now)
    live_strategy(reach_db, touchpoints=[{"channel": "partner", "partner_id": "ride"}])
    # Identity cannot be asked for the pairwise id: the delivery waits and is tried again later.
    [delivery_id] = await reach.handle_event(event("cust-1", "ev-1", at=now), consumer="t", now=now)
    with read_session(reach_db) as session:
        waiting = session.get(Delivery, delivery_id)
    assert (waiting.status, waiting.reason) == ("pending", "identity_unavailable")
    assert waiting.not_before == now + timedelta(seconds=30) and not waiting.counted_day
