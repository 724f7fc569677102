"""The journey on two replicas of every process, with a service crash, a NATS restart and a hang."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import nats
import pytest

from tests.e2e.conftest import JourneyWorld, journey_env
from tests.support.databases import DATABASE_KINDS, service_databases
from tests.support.journey_checks import assert_each_effect_once, assert_no_acknowledged_event_lost
from tests.support.otlp import OtlpReceiver
from tests.support.system import running_system
from tools.journey import Journey, wait_until
from tools.postback_receiver import PostbackReceiver

REQUEST_TIMEOUT_S = 2.0


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def replicated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JourneyWorld]:
    """On SQLite files; on PostgreSQL (make test-postgres) every service on a database of its own."""
    spans = OtlpReceiver().start()
    partner = PostbackReceiver().start()
    var_dir = tmp_path_factory.mktemp("replicated")
    try:
        with service_databases(request.param, var_dir) as databases:
            env = {
                **journey_env(partner, spans),
                "REACH_RETRY_DELAY_S": "3",
                "REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
                **databases,
            }
            with running_system(var_dir, replicas=2, extra_env=env) as stack:
                yield JourneyWorld(stack, spans, partner)
    finally:
        partner.stop()
        spans.stop()


def _durables(nats_url: str) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            return {
                info.config.name: [c.name for c in await js.consumers_info(info.config.name)]
                for info in await js.streams_info()
            }
        finally:
            await nc.close()

    return asyncio.run(read())


def test_journey_across_replicas_survives_a_crash_and_a_nats_restart(replicated: JourneyWorld) -> None:
    stack = replicated.stack
    journey = Journey(stack.config.gateway_urls, receiver=replicated.partner, say=lambda _m: None)
    try:
        journey.prepare()
        journey.user_clicks(journey.partner_creates_link())
        stack.restart("nats")  # the click is in JetStream; consumers and relays must come back
        journey.recognised_in_life()
        for name in ("benefits", "benefits-1"):
            stack.processes[name].kill()  # kill -9 both replicas: the welcome grant cannot happen now
        journey.binds_partner_account()
        time.sleep(1.0)
        for replica, name in enumerate(("benefits", "benefits-1")):
            stack.processes[name].start()
            stack.wait_service("benefits", replica=replica)
        journey.welcomed(timeout=40)  # reach retried the grant once benefits was back
        journey.redeems_in_partner_scene()
        journey.first_transaction_in_mbank()
        journey.funnel()
        assert_each_effect_once(stack, journey.result, replicated.partner)
    finally:
        journey.close()
    # replicas share one durable consumer per name instead of each consuming everything
    durables = _durables(stack.config.nats_url)
    assert durables["APP_EVENTS"].count("reach-triggers") == 1
    assert all(len(names) == len(set(names)) for names in durables.values())
    assert_no_acknowledged_event_lost(stack)  # NATS restarted mid-journey: every acknowledged event kept


def test_a_hanging_downstream_gets_a_problem_within_the_deadline(replicated: JourneyWorld) -> None:
    from tools.actors import sign_in

    stack = replicated.stack
    with httpx.Client(base_url=stack.config.gateway_url, timeout=10) as gw:
        session = sign_in(gw, "life", "l-hang-1")
        assert gw.get("/v1/apps/life/slots/home/feed", headers=session.headers).status_code in (200, 204)
        for name in ("content", "content-1"):
            stack.pause(name)
        try:
            started = time.monotonic()
            resp = gw.get("/v1/apps/life/slots/home/feed", headers=session.headers)
            elapsed = time.monotonic() - started
        finally:
            for name in ("content", "content-1"):
                stack.resume(name)
        assert resp.status_code == 504, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert elapsed <= REQUEST_TIMEOUT_S + 0.2, elapsed
        wait_until(
            "content answering again",
            lambda: (
                gw.get("/v1/apps/life/slots/home/feed", headers=session.headers).status_code in (200, 204)
            ),
        )
