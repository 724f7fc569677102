"""Content, slots and benefits pages in a real browser against the real system, checked against the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.console.conftest import screenshot
from tests.support.actors import operator_headers, sign_in

pytestmark = pytest.mark.browser
XSS = "<script>alert(1)</script>"


def _publish(gateway: httpx.Client, item_id: str) -> None:
    reviewer, author = operator_headers(gateway, "hq-reviewer"), operator_headers(gateway, "hq-operator")
    assert gateway.post(f"/v1/ops/content/items/{item_id}/approve", headers=reviewer).status_code == 200
    assert gateway.post(f"/v1/ops/content/items/{item_id}/publish", headers=author).status_code == 200


def test_an_item_drafted_in_the_form_is_placed_and_previewed(operator_page, gateway: httpx.Client) -> None:
    page, item_id = operator_page("hq-operator"), f"ui-{uuid.uuid4().hex[:8]}"
    page.goto("/content/items/new")
    page.fill("#f-item_id", item_id)
    page.fill("#f-zh_title", f"春季储蓄 {XSS}")
    page.fill("#f-zh_body", "每月定投，灵活存取")
    page.fill("#f-en_title", "Spring savings")
    page.fill("#f-deep_link", "javascript:alert(1)")
    page.get_by_test_id("create-item").click()
    # the API's refusal is shown beside the field, and everything typed is still there
    assert page.locator(".field.invalid #f-deep_link").count() == 1
    assert page.input_value("#f-zh_title") == f"春季储蓄 {XSS}"
    assert (
        gateway.get(
            f"/v1/ops/content/items/{item_id}", headers=operator_headers(gateway, "hq-viewer")
        ).status_code
        == 404
    )

    page.fill("#f-deep_link", "mbank://savings/spring")
    page.get_by_test_id("create-item").click()
    page.wait_for_url(f"**/content/items/{item_id}")
    title_cell = page.locator("tr[data-edition=standard][data-locale=zh-Hans] .variant-title")
    assert title_cell.inner_text() == f"春季储蓄 {XSS}"  # text, not markup
    assert page.locator("tr[data-edition=standard] script").count() == 0
    page.get_by_test_id("submit-item").click()
    page.wait_for_load_state("domcontentloaded")
    api_item = gateway.get(
        f"/v1/ops/content/items/{item_id}", headers=operator_headers(gateway, "hq-viewer")
    ).json()
    assert api_item["versions"][-1]["status"] == "in_review"
    _publish(gateway, item_id)

    position = f"ui/{uuid.uuid4().hex[:8]}"
    slot = gateway.post(
        "/v1/ops/content/slots",
        json={"app_id": "mbank", "position": position},
        headers=operator_headers(gateway, "hq-operator"),
    )
    assert slot.status_code == 201, slot.text
    slot_key = f"mbank/{position}"
    page.goto(f"/content/slot?key={slot_key}")
    page.get_by_test_id("open-placement-form").click()
    form = page.get_by_test_id("placement-form")
    form.locator("#f-placement_id").fill(f"p-{item_id}")
    form.locator("#f-item_id").fill(item_id)
    form.locator("#f-priority").fill("7")
    form.locator("#f-weight").fill("3")
    form.locator("#f-starts_at").fill("2026-01-01T09:00")
    form.locator("#f-cap_per_day").fill("2")
    page.get_by_test_id("create-placement").click()
    page.wait_for_load_state("domcontentloaded")
    row = page.locator(f"tr[data-placement-id='p-{item_id}']")
    assert row.count() == 1 and "2026-01-01 09:00 +08:00" in row.inner_text()
    api_placements = gateway.get(
        "/v1/ops/content/placements",
        params={"slot_key": slot_key},
        headers=operator_headers(gateway, "hq-viewer"),
    ).json()["items"]
    assert [(p["placement_id"], p["priority"], p["weight"], p["cap_per_day"]) for p in api_placements] == [
        (f"p-{item_id}", 7, 3, 2)
    ]
    assert api_placements[0]["schedule"]["starts_at"].startswith("2026-01-01T01:00:00")  # 09:00 in Shanghai

    # change it: the form opens with the placement as it is; a refusal keeps what was typed
    page.get_by_test_id(f"edit-p-{item_id}").click()
    page.wait_for_load_state("domcontentloaded")
    form = page.get_by_test_id("placement-form")
    assert form.locator("#f-starts_at").input_value() == "2026-01-01T09:00"
    assert (form.locator("#f-priority").input_value(), form.locator("#f-cap_per_day").input_value()) == (
        "7",
        "2",
    )
    form.locator("#f-weight").fill("-4")
    page.get_by_test_id("save-placement").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".field.invalid #f-weight").count() == 1
    assert page.get_by_test_id("placement-form").locator("#f-weight").input_value() == "-4"
    form = page.get_by_test_id("placement-form")
    form.locator("#f-weight").fill("5")
    form.locator("#f-priority").fill("9")
    page.get_by_test_id("save-placement").click()
    page.wait_for_url(f"**/content/slot?key={slot_key}")
    changed = gateway.get(
        "/v1/ops/content/placements",
        params={"slot_key": slot_key},
        headers=operator_headers(gateway, "hq-viewer"),
    ).json()["items"]
    assert [(p["priority"], p["weight"], p["cap_per_day"]) for p in changed] == [(9, 5, 2)]
    assert changed[0]["schedule"]["starts_at"].startswith("2026-01-01T01:00:00")  # kept as it was
    other = operator_page("bj-operator")  # another branch: the API's refusal, not the form
    other.goto(f"/content/placements/p-{item_id}/edit?slot_key={slot_key}")
    assert other.get_by_test_id("problem").get_attribute("data-status") == "404"

    page.get_by_test_id("run-preview").click()
    page.wait_for_load_state("domcontentloaded")
    shown = page.locator("[data-testid=preview-result] .preview-card")
    assert shown.count() == 1 and shown.get_attribute("data-share-bps") == "10000"
    assert shown.locator(".preview-title").inner_text() == f"春季储蓄 {XSS}"
    assert page.locator("[data-chart]").count() == 1 and page.csp_violations == []
    screenshot(page, "content-slot")
    page.select_option("#p-edition", "elderly")
    page.fill("#p-at", "2025-06-01T12:00")
    page.get_by_test_id("run-preview").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.get_by_test_id("preview-empty").is_visible()  # before the window opens

    page.fill(f"#rm-p-{item_id}", "campaign over")
    page.get_by_test_id(f"remove-p-{item_id}").click()
    page.wait_for_load_state("domcontentloaded")
    removed = gateway.get(
        "/v1/ops/content/placements",
        params={"slot_key": slot_key, "include_inactive": "true"},
        headers=operator_headers(gateway, "hq-viewer"),
    ).json()["items"]
    assert [p["active"] for p in removed] == [False]
    trail = gateway.get(
        f"/v1/ops/content/placements/p-{item_id}/audit", headers=operator_headers(gateway, "hq-viewer")
    )
    assert trail.json()["items"][-1]["reason"] == "campaign over"


def test_a_branch_operator_cannot_preview_or_read_another_branch(operator_page) -> None:
    page = operator_page("sh-operator")
    page.goto("/content/slot?key=mbank/home/top-banner&edition=standard&branch=beijing")
    problem = page.get_by_test_id("problem")
    assert (
        problem.get_attribute("data-status") == "403" and problem.get_attribute("data-code") == "branch_scope"
    )
    page.goto("/benefits/no-such-benefit")
    assert page.get_by_test_id("problem").get_attribute("data-status") == "404"


def _live_coupon(gateway: httpx.Client) -> str:
    benefit_id = f"ui-{uuid.uuid4().hex[:8]}"
    draft = {
        "benefit_id": benefit_id,
        "name": f"Coffee {XSS}",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "daily_budget": 20_000,
        "usable_scopes": ["app:*"],
        "valid_days": 7,
        "claimable": True,
    }
    assert (
        gateway.post(
            "/v1/ops/benefits", json=draft, headers=operator_headers(gateway, "hq-operator")
        ).status_code
        == 201
    )
    review = gateway.post(
        f"/v1/ops/benefits/{benefit_id}/review",
        json={"approve": True},
        headers=operator_headers(gateway, "hq-reviewer"),
    )
    assert review.status_code == 200, review.text
    for _ in range(2):
        customer = sign_in(gateway, "mbank", f"m-{uuid.uuid4().hex[:10]}")
        claim = gateway.post(
            "/v1/apps/mbank/grants", json={"benefit_id": benefit_id}, headers=customer.headers
        )
        assert claim.status_code == 201, claim.text
    return benefit_id


def test_burn_down_equals_the_api_and_lifecycle_forms_keep_reasons(
    operator_page, gateway: httpx.Client
) -> None:
    benefit_id = _live_coupon(gateway)
    viewer = operator_headers(gateway, "hq-viewer")
    page = operator_page("hq-operator")
    page.goto("/benefits")
    row = page.locator(f"tr[data-benefit-id='{benefit_id}']")
    assert f"Coffee {XSS}" in row.inner_text() and "490.00 CNY" in row.inner_text()
    page.goto(f"/benefits/{benefit_id}")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    api_days = gateway.get(f"/v1/ops/benefits/{benefit_id}/burndown", headers=viewer).json()["days"]
    assert api_days[-1] == {"day": today, "added": 50_000, "spent": 1_000, "remaining": 49_000}
    cells = page.locator(f"[data-testid=burndown] tr[data-day='{today}'] td").all_inner_texts()
    assert cells == [today, "500.00 CNY", "10.00 CNY", "490.00 CNY"]
    assert page.locator("[data-chart]").count() == 1 and page.csp_violations == []
    screenshot(page, "benefit-burndown")

    page.fill("#f-total_budget_increase", "lots")
    page.fill("#f-top_up_reason", "more coffee")
    page.get_by_test_id("request-top-up").click()
    assert page.locator(".field.invalid #f-total_budget_increase").count() == 1
    assert (
        page.input_value("#f-total_budget_increase") == "lots"
        and page.input_value("#f-top_up_reason") == "more coffee"
    )
    page.fill("#f-total_budget_increase", "100.50")
    page.get_by_test_id("request-top-up").click()
    page.wait_for_url(f"**/benefits/{benefit_id}")
    changes = gateway.get(f"/v1/ops/benefits/{benefit_id}/changes", headers=viewer).json()["items"]
    assert [(c["kind"], c["total_budget_increase"], c["status"], c["reason"]) for c in changes] == [
        ("top_up", 10_050, "pending", "more coffee")
    ]
    assert "+100.50 CNY" in page.get_by_test_id("changes").inner_text()

    page.fill("#f-reason", "suspected fraud")
    page.get_by_test_id("pause").click()
    page.wait_for_url(f"**/benefits/{benefit_id}")
    assert gateway.get(f"/v1/ops/benefits/{benefit_id}", headers=viewer).json()["status"] == "paused"
    assert "suspected fraud" in page.get_by_test_id("audit").inner_text()


def test_ledger_check_is_for_admins(operator_page) -> None:
    admin = operator_page("hq-admin")
    admin.goto("/benefits/ledger")
    assert admin.get_by_test_id("ledger-check").get_attribute("data-balanced") == "true"
    viewer = operator_page("hq-viewer")
    assert viewer.locator("nav.sidenav a[href='/benefits/ledger']").count() == 0
    viewer.goto("/benefits/ledger")
    assert viewer.get_by_test_id("problem").get_attribute("data-status") == "403"


def test_a_benefit_drafted_in_the_form_keeps_what_was_typed_on_refusal(
    operator_page, gateway: httpx.Client
) -> None:
    page, benefit_id = operator_page("sh-operator"), f"ui-{uuid.uuid4().hex[:8]}"
    page.goto("/benefits")
    page.get_by_test_id("new-benefit").click()
    page.fill("#f-benefit_id", benefit_id)
    page.fill("#f-name", "上海咖啡券")
    page.fill("#f-face_value", "5.50")
    page.fill("#f-total_budget", "a lot")
    page.get_by_test_id("draft-benefit").click()
    assert page.locator(".field.invalid #f-total_budget").count() == 1
    assert page.input_value("#f-face_value") == "5.50" and page.input_value("#f-name") == "上海咖啡券"
    page.fill("#f-total_budget", "1000")
    page.get_by_test_id("draft-benefit").click()
    page.wait_for_url(f"**/benefits/{benefit_id}")
    drafted = gateway.get(
        f"/v1/ops/benefits/{benefit_id}", headers=operator_headers(gateway, "hq-viewer")
    ).json()
    assert (drafted["status"], drafted["branch"], drafted["face_value"], drafted["total_budget"]) == (
        "draft",
        "shanghai",
        550,
        100_000,
    )
    assert drafted["drafted_by"] == "sh-operator"


def test_editing_a_published_item_opens_a_draft_and_keeps_its_media(
    operator_page, gateway: httpx.Client
) -> None:
    item_id, author = f"ed-{uuid.uuid4().hex[:8]}", operator_headers(gateway, "hq-operator")
    variant = {
        "edition": "standard",
        "texts": [{"locale": "zh-Hans", "title": "旧标题", "body": "正文"}, {"locale": "en", "title": "Old"}],
        "media": [{"kind": "image", "uri": "https://cdn.bank.example/a.png", "alt": "a"}],
        "deep_link": "mbank://home",
    }
    created = gateway.post(
        "/v1/ops/content/items",
        json={"item_id": item_id, "type": "banner", "variants": [variant]},
        headers=author,
    )
    assert created.status_code == 201, created.text
    assert gateway.post(f"/v1/ops/content/items/{item_id}/submit", headers=author).status_code == 200
    _publish(gateway, item_id)
    page = operator_page("hq-operator")
    page.goto(f"/content/items/{item_id}")
    page.get_by_test_id("edit-item").click()
    page.fill("fieldset[data-edition=standard][data-locale=en] input[name^=title]", "")
    page.fill("fieldset[data-edition=standard][data-locale=zh-Hans] input[name^=title]", f"新标题 {XSS}")
    page.fill("fieldset[data-edition=standard] input[name^=link]", "javascript:alert(1)")
    page.evaluate("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    page.get_by_test_id("save-draft").click()
    assert page.get_by_test_id("problem").get_attribute("data-status") == "422"
    assert page.input_value("fieldset[data-locale=zh-Hans] input[name^=title]") == f"新标题 {XSS}"
    page.fill("fieldset[data-edition=standard][data-locale=en] input[name^=title]", "New")
    page.fill("fieldset[data-edition=standard] input[name^=link]", "mbank://home/new")
    page.fill("#f-reason", "spring refresh")
    page.get_by_test_id("save-draft").click()
    page.wait_for_url(f"**/content/items/{item_id}")
    item = gateway.get(
        f"/v1/ops/content/items/{item_id}", headers=operator_headers(gateway, "hq-viewer")
    ).json()
    newest = max(item["versions"], key=lambda v: v["version"])
    assert (item["published_version"], newest["version"], newest["status"]) == (1, 2, "draft")
    (std,) = newest["variants"]
    assert {t["locale"]: t["title"] for t in std["texts"]} == {"zh-Hans": f"新标题 {XSS}", "en": "New"}
    assert std["media"] == variant["media"] and std["deep_link"] == "mbank://home/new"
