"""Conversion in a real browser: a campaign drafted in the form (bad fields refused beside them, what was
typed kept), a link created and copied from the campaign page, its click in the funnel equal to the API's,
and the postbacks page with its filters."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.console.conftest import screenshot
from tools.actors import ok_json, operator_headers

pytestmark = pytest.mark.browser


def _approve(gateway: httpx.Client, campaign_id: str) -> None:
    reviewer = operator_headers(gateway, "hq-reviewer")
    campaign = ok_json(gateway.get(f"/v1/ops/conversion/campaigns/{campaign_id}", headers=reviewer))
    review = {"version": campaign["pending"]["version"], "approve": True}
    ok_json(gateway.post(f"/v1/ops/conversion/campaigns/{campaign_id}/review", json=review, headers=reviewer))


def test_campaign_form_link_and_funnel_match_the_api(gateway: httpx.Client, operator_page: Any) -> None:
    campaign_id = f"console-{uuid.uuid4().hex[:8]}"
    page = operator_page("hq-operator")
    page.goto("/conversion/campaigns/new")
    page.fill("[name=campaign_id]", campaign_id)
    page.fill("[name=partner_id]", "ride")
    page.fill("[name=name]", "Riders <b>welcome</b>")
    page.fill("[name=target_app_id]", "life")
    page.fill("[name=landing_url]", "https://evil.example/phish")
    page.fill("[name=cpa_amount]", "15.5")
    page.check("[name=postback_milestones][value=activated]")
    page.click("[data-testid=save-campaign]")
    # the API refuses the landing outside the bank's domains: shown beside the form, typed values kept
    assert page.locator("[data-testid=form-errors], #e-landing_url").count() >= 1, page.inner_text("main")
    assert (
        page.input_value("[name=cpa_amount]") == "15.5"
        and page.input_value("[name=name]") == "Riders <b>welcome</b>"
    )
    page.fill("[name=cpa_amount]", "15.555")
    page.fill("[name=landing_url]", "https://life.bank.example/welcome")
    page.click("[data-testid=save-campaign]")
    assert page.locator("#e-cpa_amount").is_visible()  # more decimals than the currency has
    page.fill("[name=cpa_amount]", "15.50")
    page.click("[data-testid=save-campaign]")
    page.wait_for_url(f"**/conversion/campaigns/{campaign_id}")
    hq = operator_headers(gateway, "hq-operator")
    saved = ok_json(gateway.get(f"/v1/ops/conversion/campaigns/{campaign_id}", headers=hq))
    assert (saved["cpa_amount_minor"], saved["currency"], saved["postback_milestones"]) == (
        1550,
        "CNY",
        ["activated"],
    )
    assert saved["name"] == "Riders <b>welcome</b>" and saved["review_state"] == "pending_review"
    assert "15.50 CNY" in page.inner_text("[data-testid=campaign-terms]")

    _approve(gateway, campaign_id)
    page.reload()
    page.fill("#f-scene", "branch_poster")
    page.click("[data-testid=create-link]")
    row = page.locator("[data-testid=new-link]")
    url = row.locator(".link-url").inner_text()
    assert row.locator("[data-copy]").get_attribute("data-copy") == url
    links = ok_json(gateway.get(f"/v1/ops/conversion/campaigns/{campaign_id}/links", headers=hq))
    assert [link["url"] for link in links["items"]] == [url]

    code = url.rsplit("/r/", 1)[1]
    assert gateway.get(f"/r/{code}").status_code == 302  # one click on the link
    today = datetime.now(UTC).date().isoformat()
    params = {"partner_id": "ride", "campaign_id": campaign_id, "from_day": today, "to_day": today}
    deadline = time.monotonic() + 10  # the click reaches the funnel through its event
    while (api := ok_json(gateway.get("/v1/ops/conversion/funnels", params=params, headers=hq)))["totals"][
        "clicks"
    ] < 1:
        assert time.monotonic() < deadline, api
        time.sleep(0.1)
    assert api["totals"]["clicks"] == 1
    page.goto(f"/conversion/campaigns/{campaign_id}")
    for step in ("clicks", "landings", "linked", "activated"):
        assert int(page.inner_text(f"[data-testid=total-{step}]")) == api["totals"][step]
    page.wait_for_selector(".chart canvas")
    screenshot(page, "conversion-campaign")
    csv = page.request.get(f"/conversion/campaigns/{campaign_id}?format=csv")
    assert csv.ok and csv.text().lstrip("\ufeff").startswith("day,clicks")

    # a branch operator's hand-edited URL gets the API's refusal, not the campaign
    branch = operator_page("sh-operator")
    refused = branch.goto(f"/conversion/campaigns/{campaign_id}")
    assert refused is not None and refused.status == 404
    assert branch.locator("[data-testid=problem]").get_attribute("data-code") == "campaign_not_found"


def test_postbacks_page_filters_on_the_server(operator_page: Any) -> None:
    page = operator_page("hq-viewer")
    page.goto("/conversion/postbacks?status=dead_lettered")
    assert page.locator("#f-status").input_value() == "dead_lettered"
    for status in page.locator("[data-testid=postbacks] tbody tr .status").all_inner_texts():
        assert status == "死信"
    assert page.locator("[data-testid=resend]").count() == 0  # a viewer does not re-send
    screenshot(page, "conversion-postbacks")
    assert not page.csp_violations


def test_partner_page_and_link_key_rotation_for_head_office_admins(operator_page: Any) -> None:
    operator = operator_page("hq-operator")
    operator.goto("/conversion/partners/ride")
    assert operator.locator("[data-testid=partner]").is_visible()
    assert operator.locator("[data-testid=link-keys]").count() == 0  # only head-office admins rotate keys
    admin = operator_page("hq-admin")
    admin.goto("/conversion/partners/ride")
    admin.on("dialog", lambda dialog: dialog.accept())
    admin.fill("#f-overlap", "7")
    admin.click("[data-testid=rotate]")
    notice = admin.locator("[data-testid=rotated]").inner_text()
    assert "+08:00" in notice  # the previous key's end, in the bank's zone
    # a hand-made rotation by an operator gets the API's refusal
    token = operator.locator("meta[name=csrf-token]").get_attribute("content")
    refused = operator.request.post(
        "/conversion/partners/ride/rotate-link-key", form={"overlap_days": "7", "csrf_token": token}
    )
    assert refused.status == 403
