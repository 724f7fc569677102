"""Platform health through the gateway on the real system: consumers and lag, dead letters listed,
inspected and replayed to the one consumer that dead-lettered them; head-office admins only."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from lattice.reach.v1 import events_pb2

from services.runtime.bus import Bus, Delivery
from tools.actors import operator_headers
from tools.stack import Stack

MAX_DELIVER = 2


async def _eventually(check, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.3)


@pytest.fixture
async def poisoned(stack: Stack):
    """Two consumers of one subject; `failing` dead-letters the first message until told to accept."""
    tag = uuid.uuid4().hex[:8]
    subject = f"reach.platformtest{tag}.delivered"
    bus = await Bus.connect(stack.config.nats_url, name="platform-test")
    state: dict[str, object] = {"accept": False, "failing": [], "other": []}

    async def failing(delivery: Delivery) -> None:
        state["failing"].append(delivery.event_id)
        if not state["accept"]:
            raise RuntimeError("cannot apply")

    async def other(delivery: Delivery) -> None:
        state["other"].append(delivery.event_id)

    failing_name, other_name = f"platformtest-{tag}-failing", f"platformtest-{tag}-other"
    await bus.consume(durable=failing_name, subject=subject, handler=failing, max_deliver=MAX_DELIVER)
    await bus.consume(durable=other_name, subject=subject, handler=other)
    event = events_pb2.MessageDelivered(delivery_id=f"d-{tag}", strategy_id="s-1", channel="push")
    event_id = f"evt-{tag}"
    await bus.publish(
        subject, event.SerializeToString(), event_id=event_id, event_type=event.DESCRIPTOR.full_name
    )
    try:
        yield {"bus": bus, "subject": subject, "failing": failing_name, "other": other_name,
               "event_id": event_id, "state": state}  # fmt: skip
    finally:
        await bus.close()


async def test_dead_letter_is_listed_inspected_and_replayed_to_its_consumer_only(
    stack: Stack, gateway: httpx.Client, poisoned
) -> None:
    admin = operator_headers(gateway, "hq-admin")
    state = poisoned["state"]
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, headers=admin, timeout=10) as api:

        async def listed():
            resp = await api.get("/v1/ops/platform/dead-letters", params={"consumer": poisoned["failing"]})
            assert resp.status_code == 200, resp.text
            return resp.json()["items"]

        items = await _eventually(listed)
        assert len(items) == 1
        letter = items[0]
        assert letter["subject"] == poisoned["subject"]
        assert letter["event_id"] == poisoned["event_id"]
        assert letter["event_type"] == "lattice.reach.v1.MessageDelivered"
        assert letter["error"] == "RuntimeError"
        assert state["other"] == [poisoned["event_id"]]

        consumers = (await api.get("/v1/ops/platform/consumers")).json()["items"]
        mine = {c["consumer"]: c for c in consumers if c["consumer"].startswith("platformtest-")}
        assert mine[poisoned["failing"]]["dead_letters"] == 1
        assert mine[poisoned["other"]]["dead_letters"] == 0
        assert mine[poisoned["failing"]]["stream"] == "REACH"
        assert {"benefits-consent-withdrawn", "gateway-ended-sessions"} & {c["consumer"] for c in consumers}

        detail = (await api.get(f"/v1/ops/platform/dead-letters/{letter['sequence']}")).json()
        assert detail["payload"]["decoded"] is True
        assert detail["payload"]["fields"]["delivery_id"] == f"d-{poisoned['event_id'][4:]}"

        state["accept"] = True
        seen_before = len(state["failing"])
        replay = await api.post(f"/v1/ops/platform/dead-letters/{letter['sequence']}/replay")
        assert replay.status_code == 200, replay.text
        assert replay.json()["replayed"]["event_id"] == poisoned["event_id"]

        async def reprocessed() -> bool:
            return len(state["failing"]) > seen_before

        assert await _eventually(reprocessed)
        assert state["failing"][-1] == poisoned["event_id"]  # the same event id: exactly-once holds
        await asyncio.sleep(1.5)
        assert state["other"] == [poisoned["event_id"]]  # the other consumer never saw the replay
        assert await listed() == []
        gone = await api.get(f"/v1/ops/platform/dead-letters/{letter['sequence']}")
        assert gone.status_code == 404
        assert gone.headers["content-type"].startswith("application/problem+json")
        again = await api.post(f"/v1/ops/platform/dead-letters/{letter['sequence']}/replay")
        assert again.status_code == 404

        # the replay is on record: who, which dead letter, when
        records, token = [], None
        while True:
            params = {"page_token": token} if token else {}
            page = (await api.get("/v1/ops/platform/replays", params=params)).json()
            records += page["items"]
            token = page["next_page_token"]
            if not token:
                break
        mine = [r for r in records if r["sequence"] == letter["sequence"]]
        assert len(mine) == 1
        assert mine[0]["operator_id"] == "hq-admin"
        assert mine[0]["consumer"] == poisoned["failing"]
        assert mine[0]["event_id"] == poisoned["event_id"]
        assert mine[0]["replayed_at"]


async def test_a_replay_that_fails_again_is_dead_lettered_again(
    stack: Stack, gateway: httpx.Client, poisoned
) -> None:
    admin = operator_headers(gateway, "hq-admin")
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, headers=admin, timeout=10) as api:

        async def listed():
            resp = await api.get("/v1/ops/platform/dead-letters", params={"consumer": poisoned["failing"]})
            return resp.json()["items"]

        first = (await _eventually(listed))[0]
        assert (
            await api.post(f"/v1/ops/platform/dead-letters/{first['sequence']}/replay")
        ).status_code == 200
        second = await _eventually(listed)
        assert len(second) == 1 and second[0]["sequence"] > first["sequence"]
        assert second[0]["event_id"] == poisoned["event_id"]


def test_platform_routes_are_for_head_office_admins_only(gateway: httpx.Client) -> None:
    admin = operator_headers(gateway, "hq-admin")
    branch_admin_id = f"sh-admin-{uuid.uuid4().hex[:6]}"
    created = gateway.post(
        "/v1/ops/operators", json={"operator_id": branch_admin_id, "role": "admin", "branch": "shanghai"},
        headers=admin,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    token = gateway.post(
        "/v1/ops/token",
        json={"grant_type": "client_credentials", "client_id": branch_admin_id,
              "client_secret": created.json()["client_secret"]},
    ).json()["access_token"]  # fmt: skip
    refusals = {
        "hq-viewer": operator_headers(gateway, "hq-viewer"),
        "hq-reviewer": operator_headers(gateway, "hq-reviewer"),
        "sh-operator": operator_headers(gateway, "sh-operator"),
        "branch admin": {"Authorization": f"Bearer {token}"},
        "nobody": {},
    }
    routes = [
        ("GET", "/v1/ops/platform/consumers"),
        ("GET", "/v1/ops/platform/dead-letters"),
        ("GET", "/v1/ops/platform/dead-letters/1"),
        ("POST", "/v1/ops/platform/dead-letters/1/replay"),
        ("GET", "/v1/ops/platform/replays"),
    ]
    for who, headers in refusals.items():
        for method, path in routes:
            resp = gateway.request(method, path, headers=headers)
            assert resp.status_code in (401, 403), (who, method, path, resp.status_code)
            assert resp.headers["content-type"].startswith("application/problem+json")
    for method, path in routes[:2] + routes[-1:]:
        assert gateway.request(method, path, headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/ops/platform/dead-letters/0", {}),
        ("GET", "/v1/ops/platform/dead-letters/-3", {}),
        ("GET", "/v1/ops/platform/dead-letters/abc", {}),
        ("GET", "/v1/ops/platform/dead-letters/99999999999999999999999", {}),
        ("POST", "/v1/ops/platform/dead-letters/0/replay", {}),
        ("POST", "/v1/ops/platform/dead-letters/x.y/replay", {}),
        ("GET", "/v1/ops/platform/dead-letters", {"consumer": "a.b"}),
        ("GET", "/v1/ops/platform/dead-letters", {"consumer": "*"}),
        ("GET", "/v1/ops/platform/dead-letters", {"subject": "reach.>"}),
        ("GET", "/v1/ops/platform/dead-letters", {"subject": "a..b"}),
        ("GET", "/v1/ops/platform/dead-letters", {"page_token": "x"}),
        ("GET", "/v1/ops/platform/dead-letters", {"page_token": "-1"}),
        ("GET", "/v1/ops/platform/dead-letters", {"limit": "0"}),
        ("GET", "/v1/ops/platform/dead-letters", {"limit": "100000"}),
        ("GET", "/v1/ops/platform/replays", {"page_token": "x"}),
        ("GET", "/v1/ops/platform/replays", {"limit": "0"}),
    ],
)
def test_bad_input_is_a_problem_4xx(gateway: httpx.Client, method: str, path: str, params: dict) -> None:
    resp = gateway.request(method, path, params=params, headers=operator_headers(gateway, "hq-admin"))
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in resp.text


def test_an_unknown_dead_letter_is_not_found(gateway: httpx.Client) -> None:
    admin = operator_headers(gateway, "hq-admin")
    for method, path in (("GET", "/v1/ops/platform/dead-letters/987654321"),
                         ("POST", "/v1/ops/platform/dead-letters/987654321/replay")):  # fmt: skip
        resp = gateway.request(method, path, headers=admin)
        assert resp.status_code == 404
        assert resp.json()["code"] == "dead_letter_not_found"


async def test_dead_letters_page_on_after_the_last_one_shown(stack: Stack, gateway: httpx.Client) -> None:
    """Three dead letters of one consumer, two a page: the token continues after the second, the last
    page has no token."""
    consumer = f"platformtest-{uuid.uuid4().hex[:8]}-paged"
    bus = await Bus.connect(stack.config.nats_url, name="platform-paging-test")
    try:
        for i in range(3):
            headers = {"Lattice-Original-Event-Id": f"evt-paged-{i}", "Lattice-Error": "RuntimeError"}
            await bus.js.publish(f"dlq.{consumer}.reach.paged.delivered", b"{}", headers=headers)
    finally:
        await bus.close()
    admin = operator_headers(gateway, "hq-admin")

    def page(**params: object) -> dict:
        resp = gateway.get(
            "/v1/ops/platform/dead-letters", params={"consumer": consumer, **params}, headers=admin
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    first = page(limit=2)
    assert [d["event_id"] for d in first["items"]] == ["evt-paged-0", "evt-paged-1"]
    assert first["next_page_token"] == str(first["items"][1]["sequence"])
    rest = page(limit=2, page_token=first["next_page_token"])
    assert [d["event_id"] for d in rest["items"]] == ["evt-paged-2"]
    assert rest["next_page_token"] is None
