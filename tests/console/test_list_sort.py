"""`sort` on the operator lists the console shows: SQL order by the field then id, tokens tied to the sort.

Each list gets three fresh objects named b, a, c (in that order of creation) and is walked two rows a
page at a time: newest first they come c, a, b; by name a, b, c; every page continues the order of the
one before (no row twice, never out of order). An unknown field is a 422 naming the allowed ones; a
page token of one sort is refused under another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.actors import operator_headers


def _ok(resp: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    return resp.json()


def _item(gw: httpx.Client, label: str) -> str:
    texts = [
        {"locale": "zh-Hans", "title": f"排序 {label}", "body": "网点营业时间"},
        {"locale": "en", "title": f"Sorted {label}", "body": "Branch hours"},
    ]
    body = {"item_id": label, "type": "notice", "variants": [{"edition": "standard", "texts": texts}]}
    return _ok(gw.post("/v1/ops/content/items", json=body, headers=operator_headers(gw, "hq-operator")))[
        "item_id"
    ]


def _strategy(gw: httpx.Client, label: str) -> str:
    spec = {
        "name": label,
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": "Welcome", "body": "Hello"},
        "trigger": {"event_type": "identity.app_account.linked"},
    }
    headers = operator_headers(gw, "hq-operator")
    return _ok(gw.post("/v1/ops/reach/strategies", json=spec, headers=headers))["strategy_id"]


def _campaign(gw: httpx.Client, label: str) -> str:
    body = {
        "campaign_id": f"c{uuid.uuid4().hex[:12]}",
        "partner_id": "ride",
        "name": label,
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/sorted",
        "postback_milestones": ["linked"],
    }
    headers = operator_headers(gw, "hq-operator")
    return _ok(gw.post("/v1/ops/conversion/campaigns", json=body, headers=headers))["campaign_id"]


def _benefit(gw: httpx.Client, label: str) -> str:
    body = {
        "benefit_id": f"b{uuid.uuid4().hex[:12]}",
        "name": label,
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*"],
        "valid_days": 7,
    }
    headers = operator_headers(gw, "hq-operator")
    return _ok(gw.post("/v1/ops/benefits", json=body, headers=headers))["benefit_id"]


@dataclass(frozen=True)
class Listed:
    path: str
    id_field: str
    name_sort: str  # the field that orders by the label given at creation
    create: Callable[[httpx.Client, str], str]
    name_of: Callable[[dict[str, Any]], str]


LISTS = {
    "content_items": Listed("/v1/ops/content/items", "item_id", "item_id", _item, lambda row: row["item_id"]),
    "strategies": Listed(
        "/v1/ops/reach/strategies", "strategy_id", "name", _strategy, lambda row: row["spec"]["name"]
    ),
    "campaigns": Listed(
        "/v1/ops/conversion/campaigns", "campaign_id", "name", _campaign, lambda row: row["name"]
    ),
    "benefits": Listed("/v1/ops/benefits", "benefit_id", "name", _benefit, lambda row: row["name"]),
}


def _pages(gw: httpx.Client, listed: Listed, sort: str, wanted: set[str]) -> list[dict[str, Any]]:
    """Rows two at a time under `sort` until every wanted id was seen (or the list ends)."""
    headers = operator_headers(gw, "hq-viewer")
    rows: list[dict[str, Any]] = []
    token = ""
    for _ in range(400):
        params = {"sort": sort, "page_size": 2, **({"page_token": token} if token else {})}
        page = _ok(gw.get(listed.path, params=params, headers=headers), 200)
        assert len(page["items"]) <= 2
        rows.extend(page["items"])
        token = page["next_page_token"] or ""
        if not token or wanted <= {r[listed.id_field] for r in rows}:
            return rows
    raise AssertionError(f"{listed.path} sorted by {sort} never ended")


@pytest.mark.parametrize("name", LISTS)
def test_a_list_sorts_both_ways_and_its_pages_follow_the_sort(gateway: httpx.Client, name: str) -> None:
    listed = LISTS[name]
    run = uuid.uuid4().hex[:8]
    # "a0..." sorts before nearly every other name (ids must start with a letter)
    made = {c: listed.create(gateway, f"a0srt-{run}-{c}") for c in "bac"}
    mine = set(made.values())

    newest = _pages(gateway, listed, "-created_at", mine)
    ids = [r[listed.id_field] for r in newest]
    assert len(ids) == len(set(ids)), "a row came twice across pages"
    assert [i for i in ids if i in mine] == [made["c"], made["a"], made["b"]]

    by_name = _pages(gateway, listed, listed.name_sort, mine)
    ids = [r[listed.id_field] for r in by_name]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if i in mine] == [made["a"], made["b"], made["c"]]
    keys = [(listed.name_of(r), r[listed.id_field]) for r in by_name]
    assert keys == sorted(keys), "pages out of the sort's order"

    headers = operator_headers(gateway, "hq-viewer")
    first = _ok(gateway.get(listed.path, params={"sort": f"-{listed.name_sort}"}, headers=headers), 200)
    names = [listed.name_of(r) for r in first["items"]]
    assert names == sorted(names, reverse=True) and names
    page = {"sort": "-created_at", "page_size": 1}
    token = _ok(gateway.get(listed.path, params=page, headers=headers), 200)["next_page_token"]
    assert token
    for other in (listed.name_sort, ""):
        refused = gateway.get(listed.path, params={"sort": other, "page_token": token}, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_page_token"


@pytest.mark.parametrize("name", LISTS)
def test_an_unknown_sort_field_is_a_problem_naming_the_allowed_ones(gateway: httpx.Client, name: str) -> None:
    listed = LISTS[name]
    headers = operator_headers(gateway, "hq-viewer")
    for bad in ("colour", "--created_at", "created_at desc"):
        refused = gateway.get(listed.path, params={"sort": bad}, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "created_at" in refused.text and listed.name_sort in refused.text


def test_a_long_name_of_quotes_and_chinese_still_pages_by_name(gateway: httpx.Client) -> None:
    """The longest token a name sort gives out (100 characters, each escaped in JSON) is accepted back."""
    run = uuid.uuid4().hex[:8]
    names = [f"a0srt-{run}-{c}" + ('"\\运营' * 40)[: 100 - 16] for c in "ab"]
    made = [_strategy(gateway, name) for name in names]
    headers = operator_headers(gateway, "hq-viewer")
    seen: list[str] = []
    token = ""
    for _ in range(400):
        params = {"sort": "name", "page_size": 1, **({"page_token": token} if token else {})}
        page = _ok(gateway.get("/v1/ops/reach/strategies", params=params, headers=headers), 200)
        seen.extend(s["strategy_id"] for s in page["items"])
        token = page["next_page_token"] or ""
        if not token or set(made) <= set(seen):
            break
    assert [s for s in seen if s in made] == made
