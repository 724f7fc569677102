"""The partner is told: every way a binding ends sends it one signed `binding.withdrawn` webhook
(Standard Webhooks, retried like postbacks) naming the user by pairwise id only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from tests.conversion.conftest import eventually, unique
from tests.conversion.system import System, running_system
from tests.support import actors

HOOKS = "/ride/hooks"


def withdraw_consent(gw: httpx.Client, session: actors.Session, pairwise: str) -> None:
    consents = gw.get(f"/v1/apps/{session.app_id}/consents", headers=session.headers).json()["items"]
    consent_id = next(
        c["consent_id"] for c in consents if c["recipient"] == "ride" and not c.get("withdrawn_at")
    )
    resp = gw.post(f"/v1/apps/{session.app_id}/consents/{consent_id}/withdraw", headers=session.headers)
    assert resp.status_code == 200, resp.text


def customer_unbinds_from(gw: httpx.Client, session: actors.Session, partner_id: str) -> None:
    resp = gw.delete(f"/v1/apps/{session.app_id}/partner-links/{partner_id}", headers=session.headers)
    assert resp.status_code == 204, resp.text


def customer_unbinds(gw: httpx.Client, session: actors.Session, pairwise: str) -> None:
    customer_unbinds_from(gw, session, "ride")


def partner_unbinds(gw: httpx.Client, session: actors.Session, pairwise: str) -> None:
    with actors.partner_client(gw, "ride") as ride:
        assert ride.request("DELETE", f"/v1/partner/customers/{pairwise}").status_code == 204


WAYS: list[tuple[str, Callable[[httpx.Client, actors.Session, str], None]]] = [
    ("consent_withdrawn", withdraw_consent),
    ("unbound", customer_unbinds),
    ("unbound", partner_unbinds),
]


async def test_every_way_a_binding_ends_tells_the_partner_by_signed_webhook(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        gw = system.client()
        try:
            await tell_the_partner(system, gw)
        finally:
            gw.close()


async def tell_the_partner(system: System, gw: httpx.Client) -> None:
    admin = await asyncio.to_thread(actors.operator_headers, gw, "hq-admin")
    endpoint = await asyncio.to_thread(
        gw.put,
        "/v1/ops/conversion/partners/ride/postback",
        json={"url": system.receiver.url(HOOKS)},
        headers=admin,
    )
    assert endpoint.status_code == 200, endpoint.text
    webhook = Webhook(endpoint.json()["secret"])
    # the partner's endpoint is down for the first attempt: the notification is retried
    system.receiver.answer(HOOKS, 503)
    told: list[dict] = []
    for reason, end_binding in WAYS:
        session = await asyncio.to_thread(actors.sign_in, gw, "life", unique("w"))
        pairwise = await asyncio.to_thread(
            actors.bind_partner, gw, session, "ride", partner_user_ref=unique("r")
        )
        await asyncio.to_thread(end_binding, gw, session, pairwise)

        async def delivered(count: int) -> dict:
            received = system.receiver.on(HOOKS)
            assert len({r.headers["webhook-id"] for r in received}) == count
            return webhook.verify(received[-1].body, received[-1].headers)

        message = await eventually(partial(delivered, len(told) + 1), timeout=20)
        assert message["type"] == "binding.withdrawn"
        assert message["data"]["pairwise_id"] == pairwise and message["data"]["reason"] == reason
        assert session.customer_id not in str(message)
        told.append(message)

    def records(**params: str) -> list[dict]:
        resp = gw.get("/v1/ops/conversion/postbacks", params=params, headers=admin)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]

    async def all_delivered() -> None:
        delivered = await asyncio.to_thread(records, partner_id="ride", status="delivered")
        webhook_ids = {r.headers["webhook-id"] for r in system.receiver.on(HOOKS)}
        assert len(webhook_ids) == len(WAYS)
        assert {
            d["delivery_id"]: d["type"] for d in delivered if d["delivery_id"] in webhook_ids
        } == dict.fromkeys(webhook_ids, "binding.withdrawn")

    await eventually(all_delivered, timeout=20)
    attempts = system.receiver.on(HOOKS)
    assert len(attempts) == len(WAYS) + 1  # one retry after the 503, then each delivered once
    assert attempts[0].headers["webhook-id"] == attempts[1].headers["webhook-id"]

    # a partner with no endpoint cannot be told: the notification is dead-lettered, visible to ops
    session = await asyncio.to_thread(actors.sign_in, gw, "life", unique("w"))
    await asyncio.to_thread(actors.bind_partner, gw, session, "food", partner_user_ref=unique("f"))
    await asyncio.to_thread(customer_unbinds_from, gw, session, "food")

    async def dead_lettered() -> None:
        dead = await asyncio.to_thread(records, partner_id="food", status="dead_lettered")
        assert [(d["type"], d["last_error"]) for d in dead] == [("binding.withdrawn", "no_endpoint")]

    await eventually(dead_lettered, timeout=20)
