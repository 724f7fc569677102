"""Traces and audit in the browser: a page's trace link opens its waterfall; the audit by branch, CSV."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid

import httpx
import pytest

from tests.console.conftest import screenshot, sign_in
from tools.actors import operator_headers


def _item(gateway: httpx.Client, author: str) -> str:
    item_id = f"au-{author[:2]}-{uuid.uuid4().hex[:8]}"
    texts = [
        {"locale": "zh-Hans", "title": "网点营业时间", "body": "周末照常营业"},
        {"locale": "en", "title": "Hours"},
    ]
    body = {"item_id": item_id, "type": "notice", "variants": [{"edition": "standard", "texts": texts}]}
    reply = gateway.post("/v1/ops/content/items", json=body, headers=operator_headers(gateway, author))
    assert reply.status_code == 201, reply.text
    return item_id


@pytest.fixture(scope="module")
def items(gateway: httpx.Client) -> dict[str, str]:
    return {"sh": _item(gateway, "sh-operator"), "bj": _item(gateway, "bj-operator")}


def test_the_trace_link_of_a_page_opens_a_waterfall_from_the_console_through_the_gateway_to_the_service(
    viewer_page,
) -> None:
    page = viewer_page
    page.goto("/audit?service=content")
    link = page.locator("footer a.trace-link").first
    trace_id = link.get_attribute("data-trace-id")
    assert trace_id and re.fullmatch(r"[0-9a-f]{32}", trace_id)
    link.click()
    page.wait_for_url(f"**/traces/{trace_id}")
    # spans are written in batches: until they are, the page says so (and refreshes itself); then the
    # waterfall shows what each process has written
    deadline = time.monotonic() + 45
    while True:
        page.wait_for_selector("[data-testid=waterfall] canvas, [data-testid=trace-pending]")
        facts = page.locator("[data-testid=trace-services]")
        if facts.count() and {"console", "gateway", "content"} <= set(facts.inner_text().split(", ")):
            break
        assert time.monotonic() < deadline, page.content()
        page.wait_for_timeout(1000)
        page.goto(f"/traces/{trace_id}")
    # one trace from the console's page through the gateway to the service (traceparent propagated)
    for service in ("console", "gateway", "content"):
        assert page.locator(f"[data-testid=spans] tr[data-service={service}]").count() >= 1, service
    assert "/audit" in page.locator("[data-testid=trace-facts]").inner_text()  # the console's page
    assert page.csp_violations == []
    screenshot(page, "trace")

    page.goto("/traces?service=content")
    rows = page.locator("[data-testid=traces] tbody tr")
    assert rows.count() >= 1
    assert page.locator(f"[data-testid=traces] tr[data-trace-id='{trace_id}']").count() == 1
    for text in rows.locator("td:nth-child(5)").all_inner_texts():
        assert "content" in text
    screenshot(page, "traces")


def test_a_hand_edited_trace_url_gets_a_refusal_page(viewer_page) -> None:
    page = viewer_page
    response = page.goto("/traces/not-a-trace")
    assert response is not None and response.status == 422
    assert page.locator("[data-testid=problem]").count() == 1


def test_a_branch_operator_sees_only_its_branch_in_the_audit_trail_and_its_export(
    sh_operator_page, viewer_page, items
) -> None:
    page = sh_operator_page
    page.goto("/audit")
    assert page.locator(f"[data-testid=audit] tr[data-entity-id='{items['sh']}']").count() >= 1
    assert page.locator(f"[data-testid=audit] tr[data-entity-id='{items['bj']}']").count() == 0
    page.goto(f"/audit?entity_id={items['bj']}")
    assert page.locator("[data-testid=audit] tbody tr").count() == 0

    with page.expect_download() as download:
        page.goto("/audit?service=content")
        page.click("[data-testid=export-csv]")
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0].startswith("at (Asia/Shanghai)")
    assert any(items["sh"] in row for row in rows[1:])
    assert not any(items["bj"] in row for row in rows[1:])
    assert all(row[1] == "content" for row in rows[1:])

    viewer = viewer_page
    viewer.goto("/audit?by_operator=bj-operator&service=content")
    ids = viewer.locator("[data-testid=audit] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.entityId)"
    )
    assert items["bj"] in ids
    link = viewer.locator(
        f"[data-testid=audit] tr[data-entity-id='{items['bj']}'] [data-testid=object-link]"
    ).first
    assert link.get_attribute("href") == f"/content/items/{items['bj']}"
    assert re.search(r"\+08:00", viewer.locator("[data-testid=audit] tbody tr td").first.inner_text())
    screenshot(viewer, "audit")


def test_with_a_collector_trace_links_go_to_it(new_page, start_console) -> None:
    jaeger = "http://jaeger.bank.example:16686"
    url = start_console(CONSOLE_JAEGER_URL=jaeger)
    page = new_page(base_url=url)
    sign_in(page, "hq-viewer")
    page.goto("/audit")
    link = page.locator("footer a.trace-link").first
    assert link.get_attribute("href") == f"{jaeger}/trace/{link.get_attribute('data-trace-id')}"
    page.goto("/traces")
    assert page.locator("[data-testid=collector] a").get_attribute("href") == f"{jaeger}/search"
    assert page.locator("[data-testid=traces]").count() == 0
