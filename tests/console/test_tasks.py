"""Operators' tasks walked end to end across the console's pages, in Chromium against the real system.

Each page's own tests check that page; these follow one piece of work through every page it passes
(draft -> inbox -> review -> publish -> audit -> trace) as the people involved, and walk every page
of the navigation as every kind of operator.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.console.crawl import nav_paths
from tools.actors import operator_headers

pytestmark = pytest.mark.browser
SCRIPT = "<script>document.title='xss'</script>"


def _rows(page: Any) -> dict[str, Any]:
    rows = page.locator("[data-testid=inbox] tr[data-testid=review-row]")
    return {r.get_attribute("data-object-id"): r for r in rows.all()}


def _draft_in_the_form(page: Any, item_id: str, title: str) -> None:
    page.goto("/content/items/new")
    page.fill("#f-item_id", item_id)
    page.fill("#f-zh_title", title)
    page.fill("#f-zh_body", "周末照常营业")
    page.fill("#f-en_title", "Branch hours")
    page.get_by_test_id("create-item").click()
    page.wait_for_url(f"**/content/items/{item_id}")


def _waterfall_services(page: Any, trace_id: str) -> set[str]:
    """The processes the trace's waterfall shows, once their spans are written (batched)."""
    deadline = time.monotonic() + 45
    while True:
        page.wait_for_selector("[data-testid=waterfall] canvas, [data-testid=trace-pending]")
        facts = page.locator("[data-testid=trace-services]")
        services = set(facts.inner_text().split(", ")) if facts.count() else set()
        if {"gateway", "content"} <= services or time.monotonic() > deadline:
            return services
        page.wait_for_timeout(1000)
        page.goto(f"/traces/{trace_id}")


def test_a_branch_notice_goes_from_draft_to_published_under_four_eyes_audited_and_traced(
    operator_page: Any, gateway: httpx.Client
) -> None:
    item_id, title = f"task-{uuid.uuid4().hex[:8]}", f"网点公告 {SCRIPT}"
    shanghai = operator_page("sh-operator")
    _draft_in_the_form(shanghai, item_id, title)
    assert shanghai.title() != "xss"
    shanghai.get_by_test_id("submit-item").click()
    shanghai.wait_for_load_state("domcontentloaded")

    # the author finds it in the inbox as their own work, with no way to decide it
    shanghai.goto("/approvals?kind=content_item")
    own = _rows(shanghai)[item_id]
    assert own.get_attribute("data-own-work") == "true" and SCRIPT in own.inner_text()
    shanghai.goto(f"/approvals/content_item/{item_id}")
    assert shanghai.get_by_test_id("own-work").count() == 1
    assert shanghai.get_by_test_id("decision-form").count() == 0

    # another branch sees it nowhere: not in its list, not in its inbox, not by a hand-edited URL
    beijing = operator_page("bj-operator")
    beijing.goto("/content/items")
    assert item_id not in beijing.content()
    beijing.goto("/approvals?kind=content_item")
    assert item_id not in _rows(beijing)
    for url in (f"/content/items/{item_id}", f"/approvals/content_item/{item_id}"):
        reply = beijing.goto(url)
        assert reply is not None and reply.status == 404, url
        problem = beijing.get_by_test_id("problem")
        assert problem.get_attribute("data-status") == "404"
        assert problem.locator("a.trace-link").count() == 1  # the API's refusal, with its trace
        assert "网点公告" not in beijing.content()

    # head office's reviewer finds it in the inbox and approves it
    reviewer = operator_page("hq-reviewer")
    reviewer.goto("/approvals?kind=content_item")
    row = _rows(reviewer)[item_id]
    assert row.get_attribute("data-own-work") == "false"
    row.locator("a").click()
    reviewer.get_by_test_id("approve").click()
    reviewer.wait_for_selector("[data-testid=decided]")

    # the author publishes it; the API agrees on every step and on who took it
    shanghai.goto(f"/content/items/{item_id}")
    shanghai.get_by_test_id("publish-item").click()
    shanghai.wait_for_load_state("domcontentloaded")
    item = gateway.get(
        f"/v1/ops/content/items/{item_id}", headers=operator_headers(gateway, "hq-admin")
    ).json()
    assert item["status"] == "active", item
    assert [(v["status"], v.get("reviewer_id")) for v in item["versions"]] == [("published", "hq-reviewer")]
    shown = shanghai.get_by_test_id("item-status").inner_text()
    hq_view = operator_page("hq-viewer")
    hq_view.goto(f"/content/items/{item_id}")
    assert hq_view.get_by_test_id("item-status").inner_text() == shown

    # the audit page shows who did what to it, for the branch too
    for page, who in ((hq_view, "head office"), (shanghai, "the branch")):
        page.goto(f"/audit?entity_id={item_id}")
        trail = page.locator(f"[data-testid=audit] tr[data-entity-id='{item_id}']")
        text = " ".join(trail.all_inner_texts())
        assert trail.count() >= 2, (who, text)
        assert "sh-operator" in text and "hq-reviewer" in text, (who, text)

    # the item page's trace link opens the waterfall of the request behind it
    hq_view.goto(f"/content/items/{item_id}")
    link = hq_view.locator("footer a.trace-link").first
    trace_id = link.get_attribute("data-trace-id")
    assert trace_id and re.fullmatch(r"[0-9a-f]{32}", trace_id)
    link.click()
    hq_view.wait_for_url(f"**/traces/{trace_id}")
    assert {"gateway", "content"} <= _waterfall_services(hq_view, trace_id)
    for page in (shanghai, beijing, reviewer, hq_view):
        assert page.csp_violations == []


@pytest.mark.parametrize("operator_id", ["hq-viewer", "sh-operator", "hq-admin"])
def test_every_page_of_the_navigation_works_for_each_kind_of_operator(
    operator_page: Any, operator_id: str
) -> None:
    """No script error, no CSP violation, no failed request and every chart drawn, on every page."""
    page = operator_page(operator_id)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on(
        "requestfailed",
        lambda request: (
            errors.append(f"{page.url}: {request.url} {request.failure}")
            if "/static/" in request.url
            else None
        ),
    )
    for path in dict.fromkeys(["/", *nav_paths()]):
        reply = page.goto(path)
        assert reply is not None, path
        page.wait_for_load_state("load")
        if reply.status >= 400:  # a page the role may not use: the API's refusal, never a crash
            assert reply.status in (401, 403, 404), (path, reply.status)
            assert page.get_by_test_id("problem").count() == 1, path
            continue
        assert page.locator("nav").count() >= 1 and page.locator("h1").count() >= 1, path
        for chart in page.locator("[data-chart]").all():
            try:
                chart.locator("canvas").first.wait_for(state="attached", timeout=10_000)
            except PlaywrightTimeout:
                errors.append(f"{path}: chart {chart.get_attribute('id')} never drawn")
        assert page.title() != "xss"
    assert errors == [] and page.csp_violations == [], (errors, page.csp_violations)
