"""Clicking a column header sorts the list on the server: the URL holds the sort and keeps the filters,
the rows are the API's rows in the API's order, a second click turns the order round, and the next
page and the filter form keep the sort."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from console.session import COOKIE
from tests.console.test_list_sort import _strategy
from tests.support.actors import operator_headers
from tools.bench.scenarios.console import console_session

LIST = "/reach/strategies"


def _names(page: Any) -> list[str]:
    return page.locator("[data-testid=strategies] tbody tr td:first-child").all_inner_texts()


def _api_names(gateway: httpx.Client, sort: str) -> list[str]:
    params = {"status": "draft", "sort": sort, "page_size": 50}
    headers = operator_headers(gateway, "hq-viewer")
    reply = gateway.get("/v1/ops/reach/strategies", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return [s["spec"]["name"] for s in reply.json()["items"]]


def test_a_header_click_sorts_the_list_through_the_api_and_the_url_keeps_it(
    operator_page, gateway: httpx.Client
) -> None:
    run = uuid.uuid4().hex[:8]
    for c in "bca":
        _strategy(gateway, f"a0srt-{run}-{c}")
    page = operator_page("hq-viewer")
    page.goto(f"{LIST}?status=draft")

    page.click("th a[data-sort=name]")
    page.wait_for_url("**sort=name**")
    assert "status=draft" in page.url and "page_token" not in page.url
    assert page.get_attribute("th:has(a[data-sort=name])", "aria-sort") == "ascending"
    ascending = _names(page)
    assert ascending == _api_names(gateway, "name") and ascending == sorted(ascending)
    mine = [n for n in ascending if n.startswith(f"a0srt-{run}")]
    assert mine == [f"a0srt-{run}-{c}" for c in "abc"]

    page.click("th a[data-sort=name]")
    page.wait_for_url("**sort=-name**")
    assert page.get_attribute("th:has(a[data-sort=name])", "aria-sort") == "descending"
    descending = _names(page)
    assert descending == _api_names(gateway, "-name") and descending == sorted(descending, reverse=True)
    assert page.get_attribute("th:has(a[data-sort=status])", "aria-sort") == "none"

    if page.locator("a[rel=next]").count():  # more than a page of drafts: the next page keeps the sort
        last = descending[-1]
        page.click("a[rel=next]")
        page.wait_for_url("**page_token=**")
        assert "sort=-name" in page.url and "status=draft" in page.url
        assert all(name <= last for name in _names(page))

    page.select_option("#f-status", "")  # filtering again keeps the sort (a hidden field of the form)
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "sort=-name" in page.url
    assert page.get_attribute("th:has(a[data-sort=name])", "aria-sort") == "descending"


def test_a_hand_edited_sort_gets_the_apis_refusal(operator_page) -> None:
    page = operator_page("hq-viewer")
    reply = page.goto(f"{LIST}?sort=colour")
    assert reply is not None and reply.status == 422
    assert "strategy_id" in page.content()  # the refusal names the fields the list sorts by


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/content/items", "created_at"),
        ("/reach/strategies", "updated_at"),
        ("/conversion/campaigns", "partner_id"),
        ("/benefits", "kind"),
    ],
)
def test_every_sortable_list_marks_its_sort_and_links_the_other_way(
    console_url: str, path: str, field: str
) -> None:
    cookie = {COOKIE: console_session(console_url, "hq-viewer")}
    with httpx.Client(base_url=console_url, cookies=cookie, timeout=30) as client:
        page = client.get(path, params={"sort": f"-{field}"})
        assert page.status_code == 200, page.text[:300]
        header = re.search(
            rf'<th[^>]*aria-sort="(\w+)"><a class="sort" href="\?([^"]*)" data-sort="{field}"', page.text
        )
        assert header is not None and header.group(1) == "descending"
        assert f"sort={field}&" in header.group(2).replace("&amp;", "&") + "&"  # the next click: ascending
        for link in re.findall(r'<a href="\?([^"]*)" rel="next"', page.text):
            assert f"sort=-{field}" in link  # the next page keeps the sort
        assert client.get(path, params={"sort": "colour"}).status_code == 422
