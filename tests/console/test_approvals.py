"""The approvals inbox in the browser: branch scope, what changed, findings, four eyes, reasons."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.console.conftest import screenshot
from tools.actors import operator_headers

ITEMS = "/v1/ops/content/items"


def _texts(title: str, body: str) -> list[dict[str, str]]:
    return [{"locale": "zh-Hans", "title": title, "body": body}, {"locale": "en", "title": "Branch notice"}]


def _call(resp: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    return resp.json()


def _item_in_review(gateway: httpx.Client, author: str) -> str:
    """A published item whose second version (a changed body with a past-performance claim) waits."""
    item_id = f"ap-{author[:2]}-{uuid.uuid4().hex[:8]}"
    own, reviewer = operator_headers(gateway, author), operator_headers(gateway, "hq-reviewer")
    first = {"edition": "standard", "texts": _texts("网点<script>x</script>公告", "周末照常营业")}
    _call(
        gateway.post(ITEMS, json={"item_id": item_id, "type": "notice", "variants": [first]}, headers=own),
        201,
    )
    _call(gateway.post(f"{ITEMS}/{item_id}/submit", headers=own))
    _call(gateway.post(f"{ITEMS}/{item_id}/approve", json={}, headers=reviewer))
    _call(gateway.post(f"{ITEMS}/{item_id}/publish", headers=own))
    second = {
        "edition": "standard",
        "texts": _texts("网点<script>x</script>公告", "周末照常营业，历史年化收益仅供参考"),
    }
    _call(gateway.put(f"{ITEMS}/{item_id}/draft", json={"variants": [second]}, headers=own))
    _call(gateway.post(f"{ITEMS}/{item_id}/submit", headers=own))
    return item_id


@pytest.fixture(scope="module")
def waiting(gateway: httpx.Client) -> dict[str, str]:
    coupon = f"ap-cp-{uuid.uuid4().hex[:8]}"
    draft = {
        "benefit_id": coupon,
        "name": "审批测试券",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*"],
        "valid_days": 7,
    }
    _call(gateway.post("/v1/ops/benefits", json=draft, headers=operator_headers(gateway, "hq-reviewer")), 201)
    return {
        "sh": _item_in_review(gateway, "sh-operator"),
        "bj": _item_in_review(gateway, "bj-operator"),
        "own_benefit": coupon,
    }


def _rows(page) -> dict[str, Any]:
    rows = page.locator("[data-testid=inbox] tr[data-testid=review-row]")
    return {r.get_attribute("data-object-id"): r for r in rows.all()}


def test_a_branch_sees_only_its_own_items_and_a_hand_edited_url_gets_the_apis_refusal(
    operator_page, waiting: dict[str, str]
) -> None:
    page = operator_page("sh-operator")
    page.goto("/approvals?kind=content_item")
    rows = _rows(page)
    assert waiting["sh"] in rows and waiting["bj"] not in rows
    assert rows[waiting["sh"]].get_attribute("data-own-work") == "true"
    assert "<script>" in rows[waiting["sh"]].inner_text()  # operator-written text shown as text
    page.goto(f"/approvals/content_item/{waiting['sh']}")
    assert page.locator("[data-testid=own-work]").count() == 1
    assert page.locator("[data-testid=decision-form]").count() == 0
    reply = page.goto(f"/approvals/content_item/{waiting['bj']}")
    assert reply is not None and reply.status == 404
    assert page.locator("[data-testid=problem]").get_attribute("data-code") == "item_not_found"
    assert page.csp_violations == []


def test_a_reviewer_reads_the_change_and_its_findings_then_approves(
    operator_page, gateway: httpx.Client, waiting: dict[str, str]
) -> None:
    page = operator_page("hq-reviewer")
    page.goto("/approvals?kind=content_item")
    before = int(page.locator("[data-testid=count-content_item]").inner_text())
    row = _rows(page)[waiting["sh"]]
    assert row.get_attribute("data-own-work") == "false"
    row.locator("a").click()
    page.wait_for_selector("[data-testid=changes]")
    changed = page.locator("[data-testid=changes]")
    assert changed.locator("ins").first.inner_text() == "，历史年化收益仅供参考"
    finding = page.locator("[data-testid=findings] li[data-rule=past_performance]")
    assert finding.locator("mark.finding").inner_text() == "历史年化"
    screenshot(page, "approvals-detail")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=decided]")
    assert waiting["sh"] not in _rows(page)
    assert int(page.locator("[data-testid=count-content_item]").inner_text()) == before - 1
    item = _call(gateway.get(f"{ITEMS}/{waiting['sh']}", headers=operator_headers(gateway, "hq-admin")))
    assert [v["reviewer_id"] for v in item["versions"] if v["version"] == 2] == ["hq-reviewer"]
    assert page.csp_violations == []


def test_a_reviewers_own_draft_is_not_approvable_and_a_forged_decision_gets_the_apis_refusal(
    operator_page, waiting: dict[str, str]
) -> None:
    page = operator_page("hq-reviewer")
    page.goto("/approvals?kind=benefit")
    row = _rows(page)[waiting["own_benefit"]]
    assert row.get_attribute("data-own-work") == "true"
    screenshot(page, "approvals")
    row.locator("a").click()
    page.wait_for_selector("[data-testid=own-work]")
    assert page.locator("[data-testid=decision-form]").count() == 0
    forged = page.evaluate(
        """async (path) => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            const body = new URLSearchParams({csrf_token: token, decision: 'approve'});
            const reply = await fetch(path, {method: 'POST', body});
            return [reply.status, await reply.text()];
        }""",
        f"/approvals/benefit/{waiting['own_benefit']}/decision",
    )
    assert forged[0] == 403 and 'data-code="self_approval"' in forged[1], forged


def test_rejecting_needs_a_reason_shown_beside_the_field(operator_page, waiting: dict[str, str]) -> None:
    page = operator_page("hq-admin")
    page.goto(f"/approvals/content_item/{waiting['bj']}")
    page.click("[data-testid=reject]")
    page.wait_for_selector(".field.invalid #f-reason")
    assert page.locator("#e-reason").inner_text()
    page.fill("#f-reason", "营业时间与网点公告不一致")
    page.click("[data-testid=reject]")
    page.wait_for_selector("[data-testid=decided]")
    page.goto(f"/approvals/content_item/{waiting['bj']}")
    assert page.locator("[data-testid=not-waiting]").count() == 1


def test_a_blocking_finding_refuses_approval_until_the_reviewer_overrides_it_with_evidence(
    operator_page, gateway: httpx.Client
) -> None:
    item_id = f"ap-best-{uuid.uuid4().hex[:8]}"
    own = operator_headers(gateway, "hq-operator")
    variant = {"edition": "standard", "texts": _texts("理财公告", "本行最佳理财服务")}
    _call(
        gateway.post(ITEMS, json={"item_id": item_id, "type": "notice", "variants": [variant]}, headers=own),
        201,
    )
    _call(gateway.post(f"{ITEMS}/{item_id}/submit", headers=own))
    page = operator_page("hq-reviewer")
    page.goto(f"/approvals/content_item/{item_id}")
    hit = page.locator("[data-testid=findings] li[data-rule=unsupported_superlative] mark.finding")
    assert hit.inner_text() == "最佳"
    page.fill("#f-reason", "2025 年度银行业评选第一名，证明文件编号 A-17")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=problem][data-code=compliance_violation]")
    assert page.input_value("#f-reason") == "2025 年度银行业评选第一名，证明文件编号 A-17"  # kept as typed
    page.check("[data-testid=override]")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=decided]")
    item = _call(gateway.get(f"{ITEMS}/{item_id}", headers=own))
    assert item["versions"][-1]["status"] == "approved"


def _strategy_and_campaign(gateway: httpx.Client) -> tuple[str, str]:
    own = operator_headers(gateway, "hq-operator")
    spec = {
        "name": f"ap-welcome-{uuid.uuid4().hex[:6]}",
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": "欢迎", "body": "您好"},
        "trigger": {"event_type": "identity.app_account.linked"},
    }
    strategy = _call(gateway.post("/v1/ops/reach/strategies", json=spec, headers=own), 201)["strategy_id"]
    campaign = {
        "campaign_id": f"ap-camp-{uuid.uuid4().hex[:6]}",
        "partner_id": "ride",
        "name": "审批出行活动",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/ap",
        "cpa_amount_minor": 1000,
        "postback_milestones": ["linked"],
    }
    created = _call(gateway.post("/v1/ops/conversion/campaigns", json=campaign, headers=own), 201)
    path = f"/v1/ops/conversion/campaigns/{campaign['campaign_id']}"
    review = {"version": created["pending"]["version"], "approve": True}
    _call(gateway.post(f"{path}/review", json=review, headers=operator_headers(gateway, "hq-reviewer")))
    _call(gateway.patch(path, json={"cpa_amount_minor": 1500}, headers=own))
    return strategy, campaign["campaign_id"]


def _links(page) -> dict[str, str]:
    return {oid: row.locator("a").get_attribute("href") for oid, row in _rows(page).items()}


def test_every_kind_shows_what_changed_and_bad_urls_are_problems(
    operator_page, gateway: httpx.Client, waiting: dict[str, str]
) -> None:
    strategy, campaign = _strategy_and_campaign(gateway)
    coupon = waiting["own_benefit"]
    _call(
        gateway.post(
            f"/v1/ops/benefits/{coupon}/review",
            json={"approve": True},
            headers=operator_headers(gateway, "hq-admin"),
        )
    )
    top_up = {"total_budget_increase": 10_000, "reason": "春节加码"}
    change = _call(
        gateway.post(
            f"/v1/ops/benefits/{coupon}/top-ups",
            json=top_up,
            headers=operator_headers(gateway, "hq-operator"),
        ),
        201,
    )
    page = operator_page("hq-admin")
    page.goto("/approvals")
    wanted = {strategy, campaign, change["change_id"]}
    links = _links(page)
    while page.locator("a[rel=next]").count() and not wanted <= links.keys():
        page.click("a[rel=next]")
        links |= _links(page)
    for kind, object_id, changed in (
        ("strategy", strategy, "content.title"),
        ("campaign", campaign, "cpa_amount_minor"),
        ("benefit_change", change["change_id"], "total_budget"),
    ):
        assert object_id in links, (kind, object_id)
        page.goto(links[object_id])
        fields = page.locator("[data-testid=changes] tbody tr td:first-child").all_inner_texts()
        assert any(changed in f for f in fields), (kind, fields)
        assert page.locator("[data-testid=decision-form]").count() == 1
    assert "15.00 CNY" in page.goto(f"/approvals/campaign/{campaign}").text()
    assert page.locator("[data-testid=reject]").count() == 1
    # a strategy in review goes back to its writers with the reason (the API keeps it in the revision)
    page.goto(f"/approvals/strategy/{strategy}")
    page.fill("#f-reason", "触达内容缺少退订说明")
    page.click("[data-testid=reject]")
    page.wait_for_selector("[data-testid=decided]")
    viewer = operator_headers(gateway, "hq-viewer")
    got = _call(gateway.get(f"/v1/ops/reach/strategies/{strategy}", headers=viewer))
    revisions = _call(gateway.get(f"/v1/ops/reach/strategies/{strategy}/revisions", headers=viewer))
    said = [(r["rejected_by"], r["rejection_reason"]) for r in revisions["items"] if r["rejected_by"]]
    assert got["status"] == "rejected" and said == [("hq-admin", "触达内容缺少退订说明")]
    page.goto(f"/approvals/strategy/{strategy}")
    assert page.locator("[data-testid=not-waiting]").count() == 1
    for url, status in (
        ("/approvals/nonsense/x", 422),
        ("/approvals/content_item/no-such-item", 404),
        ("/approvals/benefit_change/x", 404),
        ("/approvals?page_token=%3Cscript%3E", 422),
        ("/approvals?kind=campaign&page_token=strategy:", 422),
    ):
        reply = page.goto(url)
        assert reply is not None and reply.status == status, url
        assert page.locator("[data-testid=problem]").count() == 1
