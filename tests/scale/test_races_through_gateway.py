"""The budget and cap races of tests/benefits and tests/reach, played through two gateways against two
replicas of every service: on SQLite (make test-scale) and with every service on its own PostgreSQL
database (make test-postgres). Lock waits end as retryable 503 problems, never as 500s or overspend.

- benefits: 500 different customers redeem one claimable coupon whose budget covers 100, at once;
  exactly 100 succeed and 400 hear `budget_exhausted`, however the 500 spread over the replicas;
  repeated RUNS times (3; BENEFITS_GATEWAY_RACE_RUNS=20 plays the issue's 20).
- reach: 50 behaviour events of one customer at once, each triggering an inbox message; the daily
  contact budget (6 by default) lets exactly 6 through whichever reach replica handles which event.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from services.reach.policy import DeliveryPolicy
from tests.benefits.test_concurrency import BUDGET_REDEMPTIONS, FACE, REDEMPTIONS
from tests.support.actors import Session, operator_headers, sign_in
from tests.support.databases import service_databases
from tests.support.system import running_system
from tools.journey import wait_until
from tools.stack import Stack

# Through the gateway one run costs 500 HTTP requests and their retries (3.5-7 min each on PostgreSQL on
# the shared 2-core development machine), so CI plays 3; the in-process race of tests/benefits plays 20.
RUNS = int(os.environ.get("BENEFITS_GATEWAY_RACE_RUNS", "3"))
RETRIES = 20  # a sign-in answered 503/504 is tried again
# A redemption answered 503 (a lock wait past its bound) or 504 is retried with the same Idempotency-Key
# until it has an answer, as Retry-After tells a client to; on a loaded machine that can take minutes.
PATIENCE_S = 600
# The deadline of a whole request; a lock wait stays bounded at 5 s within it and answers a retryable 503.
# Generous, so that a loaded CI machine meets lock waits (503) rather than deadlines (504).
REQUEST_TIMEOUT_S = 20
TOKEN_REUSE_S = 600  # access tokens live 15 minutes: sign the racers in again after 10
EVENTS = 50
CONTACT_BUDGET = DeliveryPolicy().daily_contact_budget

KINDS = [
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.scale),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass
class RaceWorld:
    stack: Stack
    racers: list[Session] = field(default_factory=list)
    signed_in_at: float = 0.0


@pytest.fixture(scope="module", params=KINDS)
def race_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RaceWorld]:
    var_dir = tmp_path_factory.mktemp("races")
    # quotas protect production from one consumer; here 500 customers of one app arrive at once
    limits = json.dumps(dict.fromkeys(("partner", "app", "ops", "public", "click"), 10**6))
    with service_databases(request.param, var_dir) as databases:
        env = {
            "ENVIRONMENT": "test",
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            "RATE_LIMITS": limits,
            "REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
            **databases,
        }
        with running_system(var_dir, replicas=2, extra_env=env) as stack:
            yield RaceWorld(stack)


def _gateways(stack: Stack) -> list[httpx.Client]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    return [
        httpx.Client(base_url=u, timeout=REQUEST_TIMEOUT_S + 10, limits=limits)
        for u in stack.config.gateway_urls
    ]


def _racers(world: RaceWorld, clients: list[httpx.Client]) -> list[Session]:
    """500 customers signed in to mbank (through both gateways), reused while their tokens are young."""
    if len(world.racers) == REDEMPTIONS and time.monotonic() - world.signed_in_at < TOKEN_REUSE_S:
        return world.racers
    run = uuid.uuid4().hex[:8]

    def racer(i: int) -> Session:
        for attempt in range(RETRIES):
            try:
                return sign_in(clients[i % len(clients)], "mbank", f"racer-{run}-{i}")
            except AssertionError as busy:  # a 503/504 problem on a loaded machine: sign in again
                if attempt == RETRIES - 1 or not any(f"-> {s}:" in str(busy) for s in (503, 504)):
                    raise
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=8) as pool:
        world.racers = list(pool.map(racer, range(REDEMPTIONS)))
    world.signed_in_at = time.monotonic()
    return world.racers


def _claimable_coupon(gw: httpx.Client) -> str:
    """A claimable coupon whose budget covers BUDGET_REDEMPTIONS, drafted and approved by two operators."""
    benefit_id = f"race-{uuid.uuid4().hex[:10]}"
    draft = {
        "benefit_id": benefit_id,
        "name": "Race coupon",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": FACE,
        "total_budget": FACE * BUDGET_REDEMPTIONS,
        "usable_scopes": ["app:*"],
        "valid_days": 30,
        "claimable": True,
    }
    created = gw.post("/v1/ops/benefits", json=draft, headers=operator_headers(gw, "hq-operator"))
    assert created.status_code == 201, created.text
    reviewed = gw.post(
        f"/v1/ops/benefits/{benefit_id}/review",
        json={"approve": True},
        headers=operator_headers(gw, "hq-reviewer"),
    )
    assert reviewed.status_code == 200, reviewed.text
    return benefit_id


def _outcome(resp: httpx.Response) -> str:
    if resp.status_code == 201:
        return "ok"
    assert resp.status_code < 500 or resp.status_code in (503, 504), f"{resp.status_code}: {resp.text}"
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return str(resp.json()["code"])


@pytest.mark.parametrize("run", range(RUNS))
def test_500_redemptions_through_the_gateway_against_a_budget_of_100(race_world: RaceWorld, run: int) -> None:
    clients = _gateways(race_world.stack)
    try:
        racers = _racers(race_world, clients)
        benefit_id = _claimable_coupon(clients[0])
        retried: Counter[str] = Counter()

        def redeem(i: int) -> str:
            gateway = clients[i % len(clients)]
            headers = {**racers[i].headers, "Idempotency-Key": f"race-{benefit_id}-{i}"}
            body = {"benefit_id": benefit_id, "order_amount": 2_000}
            give_up = time.monotonic() + PATIENCE_S
            while True:
                resp = gateway.post("/v1/apps/mbank/redemptions", json=body, headers=headers)
                outcome = _outcome(resp)
                if resp.status_code not in (503, 504) or time.monotonic() > give_up:
                    return outcome
                retried[outcome] += 1
                time.sleep(float(resp.headers.get("retry-after", "0")))

        with ThreadPoolExecutor(max_workers=32) as pool:
            outcomes = Counter(pool.map(redeem, range(REDEMPTIONS)))
        assert outcomes == Counter(
            ok=BUDGET_REDEMPTIONS, budget_exhausted=REDEMPTIONS - BUDGET_REDEMPTIONS
        ), (
            outcomes,
            retried,
        )
        burndown = clients[1].get(
            f"/v1/ops/benefits/{benefit_id}/burndown", headers=operator_headers(clients[1], "hq-viewer")
        )
        assert burndown.status_code == 200, burndown.text
        assert burndown.json()["days"][-1]["remaining"] == 0  # spent to the last unit, never beyond
    finally:
        for client in clients:
            client.close()


def test_50_simultaneous_triggers_deliver_exactly_the_daily_contact_budget(race_world: RaceWorld) -> None:
    clients = _gateways(race_world.stack)
    try:
        gw = clients[0]
        kind = "race_" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
        author, reviewer = operator_headers(gw, "hq-operator"), operator_headers(gw, "hq-reviewer")
        spec = {
            "name": f"race {kind}",
            "touchpoints": [{"channel": "inbox"}],
            "content": {"title": f"Race {kind}", "body": "One of many"},
            "trigger": {"event_type": kind},
        }
        created = gw.post("/v1/ops/reach/strategies", json=spec, headers=author)
        assert created.status_code == 201, created.text
        strategy_id = created.json()["strategy_id"]
        assert gw.post(f"/v1/ops/reach/strategies/{strategy_id}/approve", headers=reviewer).status_code == 200
        assert gw.post(f"/v1/ops/reach/strategies/{strategy_id}/activate", headers=author).status_code == 200
        customer = sign_in(gw, "mbank", f"race-reach-{uuid.uuid4().hex[:8]}")
        gateways = itertools.cycle(clients)
        sends = [(next(gateways), uuid.uuid4().hex) for _ in range(EVENTS)]

        def send(target: tuple[httpx.Client, str]) -> int:
            client, event_id = target
            event = {"event_id": event_id, "type": kind, "properties": {}}
            return client.post(
                "/v1/apps/mbank/events", json={"events": [event]}, headers=customer.headers
            ).status_code

        with ThreadPoolExecutor(max_workers=EVENTS) as pool:
            assert set(pool.map(send, sends)) == {202}
        viewer = operator_headers(gw, "hq-viewer")

        def decided() -> list[dict[str, object]] | None:
            items: list[dict[str, object]] = []
            token = ""
            while True:
                page = gw.get(
                    f"/v1/ops/reach/strategies/{strategy_id}/deliveries",
                    params={"page_size": 100, "page_token": token},
                    headers=viewer,
                ).json()
                items += page["items"]
                token = page["next_page_token"] or ""
                if not token:
                    settled = all(d["status"] not in ("pending", "sending") for d in items)
                    return items if len(items) >= EVENTS and settled else None

        deliveries = wait_until("every trigger decided", decided, timeout=120)
        statuses = Counter((d["status"], d.get("reason", "")) for d in deliveries)
        delivered = sum(n for (status, _), n in statuses.items() if status == "delivered")
        assert delivered == CONTACT_BUDGET, statuses
        assert statuses[("suppressed", "contact_budget_exhausted")] == EVENTS - CONTACT_BUDGET, statuses
        inbox = gw.get("/v1/apps/mbank/inbox", headers=customer.headers).json()["items"]
        assert len([m for m in inbox if m["title"] == f"Race {kind}"]) == CONTACT_BUDGET
    finally:
        for client in clients:
            client.close()
