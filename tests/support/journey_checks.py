"""What a journey that went through faults must still show: one welcome coupon, one inbox message,
one postback and a funnel that counted every step once; and every event an outbox saw acknowledged
kept by JetStream."""

from __future__ import annotations

import asyncio
import time

import httpx
import nats
from nats.js.errors import NotFoundError
from sqlalchemy import text

from services.runtime.config import SERVICES, Settings
from services.runtime.db import make_engine
from tools.journey import JourneyResult
from tools.postback_receiver import PostbackReceiver
from tools.stack import Stack


def assert_each_effect_once(
    stack: Stack, result: JourneyResult, partner: PostbackReceiver, *, settle_s: float = 2.0
) -> None:
    """No duplicate grant, inbox message or postback, and no lost event (the funnel counts 1, 1, 1)."""
    life = result.life
    assert life is not None
    time.sleep(settle_s)  # let any duplicate that was going to happen happen
    welcome = [s for s in result.steps if s.title.startswith("welcomed")][0].saw
    assert len(welcome["wallet in life"]) == 1  # one welcome coupon was granted...
    with httpx.Client(base_url=stack.config.gateway_urls[-1], timeout=10) as gw:
        wallet = gw.get("/v1/apps/life/wallet", headers=life.headers).json()["grants"]
        assert [g for g in wallet if g["benefit_id"] == result.benefit_id] == []  # ...and no second one later
        inbox = gw.get("/v1/apps/life/inbox", headers=life.headers).json()
    assert len(inbox.get("messages") or inbox.get("items") or []) == 1
    postbacks = [p for p in partner.received if p.body["data"].get("campaign_id") == result.campaign_id]
    assert len({p.webhook_id for p in postbacks}) == 1  # no duplicate postback
    funnel = [s for s in result.steps if s.title == "read the campaign funnel"][0].saw
    assert (funnel["clicks"], funnel["acquired"], funnel["activated"]) == (1, 1, 1)  # no lost event


def _database_url(stack: Stack, service: str) -> str:
    env = stack.base_env()
    settings = Settings(var_dir=stack.config.var_dir, database_url=env.get("DATABASE_URL", ""))
    return env.get(f"{service.upper()}_DATABASE_URL") or settings.database_url_for(service)


def outbox_events(stack: Stack) -> dict[str, set[str]]:
    """Per service: ids of events its outbox relayed (JetStream acknowledged them), and "pending:<service>"
    the ones still waiting to be published."""
    out: dict[str, set[str]] = {}
    for service in SERVICES:
        engine = make_engine(_database_url(stack, service))
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, published_at IS NOT NULL FROM outbox_event")).all()
        finally:
            engine.dispose()
        out[service] = {str(r[0]) for r in rows if r[1]}
        out[f"pending:{service}"] = {str(r[0]) for r in rows if not r[1]}
    return out


def pending_outbox(stack: Stack) -> int:
    events = outbox_events(stack)
    return sum(len(ids) for key, ids in events.items() if key.startswith("pending:"))


def stream_message_ids(url: str) -> list[str]:
    """The Nats-Msg-Id of every message kept in every stream (a replica group answers through its leader)."""

    async def read() -> list[str]:
        nc = await nats.connect(servers=url.split(","), connect_timeout=5, max_reconnect_attempts=5)
        js = nc.jetstream(timeout=10)
        ids: list[str] = []
        try:
            for info in await js.streams_info():
                if not info.state.messages:
                    continue
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    try:
                        msg = await js.get_msg(info.config.name, seq)
                    except NotFoundError:
                        continue
                    ids.append(str((msg.headers or {}).get("Nats-Msg-Id", "")))
        finally:
            await nc.close()
        return ids

    return asyncio.run(read())


def assert_no_acknowledged_event_lost(stack: Stack) -> None:
    """Every event an outbox marked published (JetStream acknowledged it) is in its stream, once."""
    kept = [i for i in stream_message_ids(stack.config.nats_url) if i]
    assert len(kept) == len(set(kept)), "a stream holds an event twice"
    events = outbox_events(stack)
    published = set().union(*(events[s] for s in SERVICES))
    assert published, "no event was published"
    missing = published - set(kept)
    assert not missing, f"{len(missing)} acknowledged events are not in JetStream: {sorted(missing)[:5]}"
