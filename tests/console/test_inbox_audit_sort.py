"""The approvals inbox and the audit page sort by their headers through the API: the submitted and kind
columns of the inbox (all queues merged by the field), the time column of the audit trail (newest first
by default, oldest first on a click); the rows are the API's rows in the API's order."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.console.test_skeleton import signed_in_client
from tests.gateway.test_ops_reviews import _all, _drafted_benefit, _submitted_item
from tests.support.actors import operator_headers


def _inbox_rows(page: Any) -> list[tuple[str, str]]:
    rows = page.locator("[data-testid=review-row]")
    return [
        (rows.nth(i).get_attribute("data-kind"), rows.nth(i).get_attribute("data-object-id"))
        for i in range(rows.count())
    ]


def _api_inbox(gateway: httpx.Client, sort: str) -> list[tuple[str, str]]:
    headers = operator_headers(gateway, "hq-reviewer")
    reply = gateway.get("/v1/ops/reviews", params={"sort": sort, "page_size": 50}, headers=headers)
    assert reply.status_code == 200, reply.text
    return [(i["kind"], i["object_id"]) for i in reply.json()["items"]]


def _audit_rows(page: Any) -> list[tuple[str, str]]:
    rows = page.locator("[data-testid=audit] tbody tr")
    return [
        (rows.nth(i).get_attribute("data-service"), rows.nth(i).get_attribute("data-entity-id"))
        for i in range(rows.count())
    ]


def _api_audit(gateway: httpx.Client, sort: str) -> list[tuple[str, str]]:
    headers = operator_headers(gateway, "hq-reviewer")
    reply = gateway.get("/v1/ops/audit", params={"sort": sort, "limit": 50}, headers=headers)
    assert reply.status_code == 200, reply.text
    return [(r["service"], r["entity_id"]) for r in reply.json()["records"]]


def test_inbox_and_audit_headers_sort_through_the_api(operator_page, gateway: httpx.Client) -> None:
    _drafted_benefit(gateway, "sh-operator")
    newest = _submitted_item(gateway, "sh-operator")  # the last in review: first newest first
    page = operator_page("hq-reviewer")

    page.goto("/approvals")
    page.click("th a[data-sort=submitted_at]")
    page.wait_for_url("**sort=submitted_at**")
    assert page.get_attribute("th:has(a[data-sort=submitted_at])", "aria-sort") == "ascending"
    assert _inbox_rows(page) == _api_inbox(gateway, "submitted_at")
    page.click("th a[data-sort=submitted_at]")
    page.wait_for_url("**sort=-submitted_at**")
    assert page.get_attribute("th:has(a[data-sort=submitted_at])", "aria-sort") == "descending"
    by_time = _inbox_rows(page)
    assert by_time == _api_inbox(gateway, "-submitted_at") and by_time[0] == ("content_item", newest)
    assert "sort=-submitted_at" in (page.get_attribute("[data-testid=export]", "href") or "")
    page.click("th a[data-sort=kind]")
    page.wait_for_url("**sort=kind**")
    kinds = [kind for kind, _ in _inbox_rows(page)]
    assert kinds == sorted(kinds) and _inbox_rows(page) == _api_inbox(gateway, "kind")
    page.click("a[href*='kind=benefit&sort=kind']")  # a kind's tab keeps the sort
    page.wait_for_url("**kind=benefit**")
    assert "sort=kind" in page.url and {k for k, _ in _inbox_rows(page)} <= {"benefit"}
    page.go_back()
    page.wait_for_url("**sort=kind**")
    if page.locator("a[rel=next]").count():  # the next page keeps the sort and its token
        page.click("a[rel=next]")
        page.wait_for_url("**page_token=**")
        assert "sort=kind" in page.url and all(k >= kinds[-1] for k, _ in _inbox_rows(page))

    page.goto("/audit")  # newest first by default: the header says so and its link turns it round
    assert page.get_attribute("th:has(a[data-sort=at])", "aria-sort") == "descending"
    assert _audit_rows(page) == _api_audit(gateway, "-at")
    page.click("th a[data-sort=at]")
    page.wait_for_url("**sort=at**")
    assert page.get_attribute("th:has(a[data-sort=at])", "aria-sort") == "ascending"
    assert _audit_rows(page) == _api_audit(gateway, "at") != _api_audit(gateway, "-at")
    page.click("th a[data-sort=at]")
    page.wait_for_url("**sort=-at**")
    assert _audit_rows(page)[:2] == _api_audit(gateway, "-at")[:2]

    for path in ("/approvals?sort=title", "/audit?sort=operator_id"):  # a hand-edited sort: the API's 422
        reply = page.goto(path)
        assert reply is not None and reply.status == 422


def test_the_inbox_export_follows_the_pages_sort(console_url: str, gateway: httpx.Client) -> None:
    _submitted_item(gateway, "hq-operator")
    _drafted_benefit(gateway, "hq-operator")
    with signed_in_client(console_url, "hq-reviewer") as (client, _):
        for sort in ("-submitted_at", "submitted_at", "kind"):
            answer = client.get("/approvals/export.csv", params={"sort": sort})
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(answer.text.removeprefix("\ufeff"))))
            assert rows[0][:2] == ["kind", "object_id"]
            exported = [(r[0], r[1]) for r in rows[1:]]
            api = [(i["kind"], i["object_id"]) for i in _all(gateway, "hq-reviewer", sort=sort)]
            assert exported == api and len(exported) >= 2, sort
        refused = client.get("/approvals/export.csv", params={"sort": "title"})  # the API's 422
        assert refused.status_code == 422
