"""Reach in a real browser: a strategy built in the 4W1Do form equals the one the API returns, its dry
run shows the audience the API counts, a bad field is refused beside it keeping what was typed, a
reviewer approves it (the author cannot), and its review says "not measurable" without a control."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.console.conftest import screenshot
from tools.actors import ok_json, operator_headers, sign_in

pytestmark = pytest.mark.browser


def _event_type() -> str:
    return "salary_credited_" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))


def _shanghai_audience(gateway: httpx.Client) -> None:
    """A Shanghai customer the reach service knows (profiles come from app events)."""
    session = sign_in(gateway, "mbank", "m-1001")
    event = {"event_id": uuid.uuid4().hex, "type": "page_viewed"}
    resp = gateway.post("/v1/apps/mbank/events", json={"events": [event]}, headers=session.headers)
    assert resp.status_code == 202, resp.text


def _fill(page: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        locator = page.locator(f"[name='{name}']")
        if locator.evaluate("el => el.tagName") == "SELECT":
            locator.select_option(value)
        else:
            locator.fill(value)


def test_a_strategy_built_in_the_form_equals_the_api_and_its_dry_run_shows_the_audience(
    gateway: httpx.Client, operator_page: Any
) -> None:
    _shanghai_audience(gateway)
    kind, name = _event_type(), f"Salary day {uuid.uuid4().hex[:6]}"
    page = operator_page("hq-operator")
    page.goto("/reach/strategies/new")
    typed = {
        "name": name,
        "purpose": "offers",
        "seg-0-field": "branch",
        "seg-0-op": "eq",
        "seg-0-values": "shanghai",
        "control_share_pct": "12.5",
        "tp-0-channel": "inbox",
        "tp-1-channel": "push",
        "tp-1-app_id": "mbank",
        "title": "Salary ${amount} <script>alert(1)</script>",
        "body": "Grow it with a deposit",
        "event_type": "Bad Type!",
        "trg-0-field": "properties.amount",
        "trg-0-op": "gte",
        "trg-0-values": "5000",
        "delay_min": "5",
        "validity_h": "48",
        "min_interval_h": "24",
        "goal_event_type": "deposit_opened",
        "conversion_window_d": "7",
    }
    _fill(page, typed)
    page.click("[data-testid=save-strategy]")
    # refused beside the field, everything typed kept, nothing saved
    assert page.locator("#e-event_type").is_visible()
    assert page.input_value("[name=name]") == name and page.input_value("[name=event_type]") == "Bad Type!"
    assert page.input_value("[name=title]") == typed["title"]
    screenshot(page, "reach-strategy-form")
    page.fill("[name=event_type]", kind)
    page.click("[data-testid=save-strategy]")
    page.wait_for_url("**/reach/strategies/*")
    strategy_id = page.url.rstrip("/").rsplit("/", 1)[1]
    # the operator-written title is text on the page, never markup
    assert page.locator("[data-testid=what] .message-title").inner_text() == typed["title"]

    author = operator_headers(gateway, "hq-operator")
    saved = ok_json(gateway.get(f"/v1/ops/reach/strategies/{strategy_id}", headers=author))
    assert saved["status"] == "draft" and saved["created_by"] == "hq-operator"
    spec = saved["spec"]
    assert spec["name"] == name and spec["kind"] == "marketing" and spec["purpose"] == "offers"
    assert spec["segment"] == [{"field": "branch", "op": "eq", "values": ["shanghai"]}]
    assert spec["control_share_bp"] == 1250
    assert spec["touchpoints"] == [
        {"channel": "inbox", "app_id": "", "partner_id": ""},
        {"channel": "push", "app_id": "mbank", "partner_id": ""},
    ]
    assert spec["content"] | {"variables": {}} == {
        "content_item_id": "",
        "title": typed["title"],
        "body": typed["body"],
        "variables": {},
        "locale": "",
    }
    assert spec["trigger"] == {
        "event_type": kind,
        "predicates": [{"field": "properties.amount", "op": "gte", "values": ["5000"]}],
        "delay_s": 300,
    }
    assert "schedule" not in spec or spec["schedule"] is None
    assert (spec["validity_s"], spec["min_interval_s"], spec["conversion_window_s"]) == (
        48 * 3600,
        86400,
        7 * 86400,
    )
    assert spec["goal_event_type"] == "deposit_opened" and spec["benefit_id"] == ""

    deadline = time.monotonic() + 10
    while (api := ok_json(gateway.post(f"/v1/ops/reach/strategies/{strategy_id}/dry-run", headers=author)))[
        "audience"
    ] < 1:
        assert time.monotonic() < deadline, api
        time.sleep(0.2)
    page.click("[data-testid=dry-run]")
    page.wait_for_selector("[data-testid=dry-run-result]")
    shown = int(page.inner_text("[data-testid=dry-run-audience]"))
    api = ok_json(gateway.post(f"/v1/ops/reach/strategies/{strategy_id}/dry-run", headers=author))
    assert shown == api["audience"] >= 1
    assert int(page.inner_text("[data-testid=dry-run-control]")) == api["control"]
    for touchpoint in api["touchpoints"]:
        assert (
            int(page.inner_text(f"[data-testid=dry-run-{touchpoint['channel']}]")) == touchpoint["customers"]
        )
    page.wait_for_selector("[data-testid=dry-run-result] .chart canvas")  # ECharts drew the numbers
    screenshot(page, "reach-strategy")
    assert page.locator("[data-testid=approve]").count() == 0  # an operator does not approve

    reviewer = operator_page("hq-reviewer")
    reviewer.goto(f"/reach/strategies/{strategy_id}")
    reviewer.click("[data-testid=approve]")
    reviewer.wait_for_selector("[data-testid=status]")
    assert (
        ok_json(gateway.get(f"/v1/ops/reach/strategies/{strategy_id}", headers=author))["status"]
        == "approved"
    )

    viewer = operator_page("hq-viewer")
    viewer.goto(f"/reach/strategies/{strategy_id}/review")
    assert "不可衡量" in viewer.inner_text("[data-testid=uplift]")
    assert viewer.locator("[data-testid=dry-run]").count() == 0
    csv = viewer.request.get(f"/reach/strategies/{strategy_id}/review?format=csv")
    assert csv.ok and "measurable,False" in csv.text()
    screenshot(viewer, "reach-review")
    assert not page.csp_violations and not viewer.csp_violations


def test_the_authors_own_edit_is_not_approvable_by_the_author(
    gateway: httpx.Client, operator_page: Any
) -> None:
    admin = operator_headers(gateway, "hq-admin")
    body = {
        "name": f"Admin's own {uuid.uuid4().hex[:6]}",
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": "Hello", "body": "World"},
        "trigger": {"event_type": _event_type()},
    }
    created = ok_json(gateway.post("/v1/ops/reach/strategies", json=body, headers=admin))
    page = operator_page("hq-admin")
    page.goto(f"/reach/strategies/{created['strategy_id']}")
    assert page.locator("[data-testid=own-work]").is_visible()
    assert page.locator("[data-testid=approve]").count() == 0
    # a hand-made POST gets the API's refusal as a page, not an approval
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    refused = page.request.post(
        f"/reach/strategies/{created['strategy_id']}/status", form={"action": "approve", "csrf_token": token}
    )
    assert refused.status == 403
    assert (
        ok_json(gateway.get(f"/v1/ops/reach/strategies/{created['strategy_id']}", headers=admin))["status"]
        == "draft"
    )
