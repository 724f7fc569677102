"""Platform health and administration pages in a real browser against the real system."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import httpx
import pytest
from lattice.reach.v1 import events_pb2

from services.runtime.bus import Bus, Delivery
from tests.console.conftest import screenshot, sign_in
from tests.support.actors import operator_headers
from tools.stack import Stack

pytestmark = pytest.mark.browser
XSS = "<script>alert(1)</script>"


class PoisonedConsumer:
    """A consumer of the real bus (in a thread of its own) that dead-letters its first message."""

    def __init__(self, nats_url: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.name, self.subject, self.event_id = f"uitest-{tag}", f"reach.uitest{tag}.delivered", f"evt-{tag}"
        self.delivery_id, self.accept, self.seen = f"d-{tag}", False, []
        self._url, self._ready, self._stop = nats_url, threading.Event(), threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        bus = await Bus.connect(self._url, name="console-test")

        async def handle(delivery: Delivery) -> None:
            self.seen.append(delivery.event_id)
            if not self.accept:
                raise RuntimeError("cannot apply")

        await bus.consume(durable=self.name, subject=self.subject, handler=handle, max_deliver=2)
        event = events_pb2.MessageDelivered(delivery_id=self.delivery_id, strategy_id="s-1", channel="push")
        await bus.publish(self.subject, event.SerializeToString(), event_id=self.event_id,
                          event_type=event.DESCRIPTOR.full_name)  # fmt: skip
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.1)
        await bus.close()

    def __enter__(self) -> PoisonedConsumer:
        self._thread.start()
        assert self._ready.wait(20)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def _dead_letter_row(page, consumer: str):
    for _ in range(40):
        page.goto(f"/platform/health?consumer={consumer}")
        rows = page.locator("table[data-testid=dead-letters] tbody tr")
        if rows.count():
            return rows.first
        time.sleep(0.5)
    raise AssertionError("the dead letter never appeared")


def test_a_dead_letter_is_inspected_and_replayed_from_the_health_page(admin_page, stack: Stack) -> None:
    page = admin_page
    with PoisonedConsumer(stack.config.nats_url) as poisoned:
        row = _dead_letter_row(page, poisoned.name)
        assert row.get_attribute("data-event-id") == poisoned.event_id
        assert page.locator(f"[data-testid='dead-{poisoned.name}']").inner_text() == "1"
        assert page.locator(".chart").count() == 1  # lag chart, its numbers in the table beside it
        screenshot(page, "platform-health")
        row.locator("a").first.click()
        page.wait_for_url("**/platform/dead-letters/*")
        assert page.get_by_test_id("event-id").inner_text() == poisoned.event_id
        assert poisoned.delivery_id in page.get_by_test_id("payload").inner_text()  # decoded by its type
        poisoned.accept = True
        before = len(poisoned.seen)
        page.get_by_test_id("replay").click()
        page.wait_for_url("**/platform/health?replayed=*")
        assert page.get_by_test_id("replayed").is_visible()
        sequence = page.url.rsplit("=", 1)[1]
        record = page.locator(f"table[data-testid=replays] tr[data-sequence='{sequence}']")
        assert "hq-admin" in record.inner_text()
        deadline = time.monotonic() + 20
        while len(poisoned.seen) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert poisoned.seen[-1] == poisoned.event_id  # the same event, to that consumer
        page.goto(f"/platform/health?consumer={poisoned.name}")
        assert page.get_by_test_id("no-dead-letters").is_visible()
        assert page.csp_violations == []


def test_platform_and_admin_pages_are_refused_to_others(sh_operator_page, viewer_page) -> None:
    for page in (sh_operator_page, viewer_page):
        assert page.locator("nav a[href='/platform/health']").count() == 0
        assert page.locator("nav a[href^='/admin/']").count() == 0
        for path in ("/platform/health", "/platform/dead-letters/1", "/admin/operators", "/admin/keys"):
            page.goto(path)
            problem = page.get_by_test_id("problem")
            assert problem.get_attribute("data-status") == "403", path


def test_an_admin_adds_an_operator_with_errors_beside_the_field(admin_page, gateway: httpx.Client) -> None:
    page = admin_page
    page.goto("/admin/operators")
    operator_id = f"ui-{uuid.uuid4().hex[:6]}"
    page.fill("#f-operator_id", f"Bad {XSS}")
    page.select_option("#f-role", "reviewer")
    page.fill("#f-branch", "shanghai")
    page.get_by_test_id("add-operator").click()
    assert page.locator(".field.invalid #f-operator_id").count() == 1
    assert page.input_value("#f-operator_id") == f"Bad {XSS}"  # kept as typed, rendered as text
    assert page.input_value("#f-branch") == "shanghai"
    page.fill("#f-operator_id", operator_id)
    page.get_by_test_id("add-operator").click()
    secret = page.get_by_test_id("client-secret").inner_text()
    assert len(secret) >= 16 and secret not in page.url
    token = gateway.post("/v1/ops/token", json={"grant_type": "client_credentials", "client_id": operator_id,
                                                "client_secret": secret})  # fmt: skip
    assert token.status_code == 200 and token.json()["branch"] == "shanghai"
    page.goto("/admin/operators?branch=shanghai&role=reviewer")
    assert page.locator(f"tr[data-operator-id='{operator_id}']").count() == 1
    assert page.locator("tr[data-operator-id='hq-admin']").count() == 0
    screenshot(page, "admin-operators")
    page.reload()
    assert secret not in page.content()  # shown once, on the answer only


def test_the_reach_policy_needs_a_second_admin(admin_page, new_page, gateway: httpx.Client) -> None:
    page = admin_page
    page.goto("/admin/reach-policy")
    budget = page.get_by_test_id("budget").inner_text()
    page.fill("#f-quiet_start", "25:00")
    page.get_by_test_id("propose-policy").click()
    assert page.locator(".field.invalid #f-quiet_start").count() == 1
    assert page.input_value("#f-quiet_start") == "25:00"
    page.goto("/admin/reach-policy")
    page.get_by_test_id("propose-policy").click()  # the policy in force, unchanged, as a proposal
    page.wait_for_url("**/admin/reach-policy")
    assert page.get_by_test_id("own-proposal").is_visible()
    assert page.get_by_test_id("approve-policy").count() == 0
    second_id = f"hq-admin-{uuid.uuid4().hex[:6]}"
    created = gateway.post("/v1/ops/operators", json={"operator_id": second_id, "role": "admin"},
                           headers=operator_headers(gateway, "hq-admin"))  # fmt: skip
    second = new_page()
    sign_in(second, second_id, created.json()["client_secret"], next_path="/admin/reach-policy")
    second.goto("/admin/reach-policy")
    second.get_by_test_id("approve-policy").click()
    second.wait_for_url("**/admin/reach-policy")
    assert second.get_by_test_id("pending-proposal").count() == 0
    assert second.get_by_test_id("budget").inner_text() == budget


def test_partners_apps_and_keys_pages(admin_page, gateway: httpx.Client) -> None:
    page = admin_page
    page.goto("/admin/apps")
    assert page.locator("tr[data-app-id='mbank']").count() == 1
    page.fill("#f-app_id", "x")
    page.fill("#f-name", XSS)
    page.fill("#f-legal_entity", "Lattice Bank")
    page.get_by_test_id("add-app").click()
    assert page.locator(".field.invalid #f-app_id").count() == 1
    assert page.input_value("#f-name") == XSS
    partner_id = f"ui-{uuid.uuid4().hex[:6]}"
    page.goto("/admin/partners")
    page.fill("#f-partner_id", partner_id)
    page.fill("#f-name", "单车出行")
    page.fill("#f-sector", "mobility")
    page.get_by_test_id("add-partner").click()
    assert page.get_by_test_id("partner-answer").get_attribute("data-kind") == "created"
    first_secret = page.get_by_test_id("secret").inner_text()
    page.get_by_test_id(f"rotate-{partner_id}").click()
    assert page.get_by_test_id("partner-answer").get_attribute("data-kind") == "key"
    assert page.get_by_test_id("secret").inner_text() not in ("", first_secret)
    row = page.locator(f"tr[data-partner-id='{partner_id}']")
    row.locator("summary").click()
    row.locator("input[name=url]").fill("https://127.0.0.1/postbacks")
    row.locator("form.form button").click()
    assert page.get_by_test_id("problem").get_attribute("data-status") == "422"  # the one SSRF guard
    listed = gateway.get(f"/v1/ops/partners/{partner_id}", headers=operator_headers(gateway, "hq-viewer"))
    assert listed.json()["postback_url"] == ""
    # both registry changes are in identity's audit trail: in the API and on the console's audit page
    trail = gateway.get(
        "/v1/ops/audit",
        params={"service": "identity", "entity_id": partner_id},
        headers=operator_headers(gateway, "hq-viewer"),
    ).json()["records"]
    assert [(r["action"], r["operator_id"]) for r in trail] == [
        ("partner_key_rotated", "hq-admin"),
        ("partner_registered", "hq-admin"),
    ]
    assert not any(first_secret in r["detail"] for r in trail)  # who and what, never the secret
    page.goto(f"/audit?service=identity&entity_id={partner_id}")
    rows = page.locator(f"table[data-testid=audit] tr[data-entity-id='{partner_id}'][data-service=identity]")
    assert rows.count() == 2
    page.goto("/admin/keys")
    assert page.locator("table[data-testid=jwks] tbody tr").count() >= 1
    page.get_by_test_id("rotate-links").click()
    assert page.get_by_test_id("links-rotated").is_visible()
