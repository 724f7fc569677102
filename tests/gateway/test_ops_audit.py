"""The audit search `/v1/ops/audit` through the gateway: every trail, filters, branch scope, paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tools.actors import operator_headers

AUDIT = "/v1/ops/audit"


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _ok(resp: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    return resp.json()


def _item(gw: httpx.Client, author: str) -> str:
    item_id = _uid("au-item")
    texts = [
        {"locale": "zh-Hans", "title": "营业时间", "body": "每月储蓄计划"},
        {"locale": "en", "title": "Hours"},
    ]
    body = {"item_id": item_id, "type": "notice", "variants": [{"edition": "standard", "texts": texts}]}
    _ok(gw.post("/v1/ops/content/items", json=body, headers=operator_headers(gw, author)), 201)
    return item_id


def _benefit(gw: httpx.Client, author: str) -> str:
    benefit_id = _uid("au-ben")
    body = {
        "benefit_id": benefit_id,
        "name": "Audited coupon",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*"],
        "valid_days": 7,
    }
    _ok(gw.post("/v1/ops/benefits", json=body, headers=operator_headers(gw, author)), 201)
    return benefit_id


def _campaign(gw: httpx.Client, author: str, branch: str) -> str:
    body = {
        "campaign_id": _uid("au-camp"),
        "partner_id": "ride",
        "name": "Audited rides",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/audited",
        "postback_milestones": ["linked"],
        "branch": branch,
    }
    _ok(gw.post("/v1/ops/conversion/campaigns", json=body, headers=operator_headers(gw, author)), 201)
    return str(body["campaign_id"])


def _strategy(gw: httpx.Client, author: str) -> str:
    spec = {
        "name": _uid("au-welcome"),
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": "Welcome", "body": "Hello"},
        "trigger": {"event_type": "identity.app_account.linked"},
    }
    reply = gw.post("/v1/ops/reach/strategies", json=spec, headers=operator_headers(gw, author))
    return _ok(reply, 201)["strategy_id"]


@pytest.fixture(scope="module")
def objects(gateway: httpx.Client) -> dict[str, str]:
    return {
        "sh_item": _item(gateway, "sh-operator"),
        "bj_item": _item(gateway, "bj-operator"),
        "sh_benefit": _benefit(gateway, "sh-operator"),
        "hq_benefit": _benefit(gateway, "hq-operator"),
        "sh_campaign": _campaign(gateway, "sh-operator", "shanghai"),
        "bj_campaign": _campaign(gateway, "bj-operator", "beijing"),
        "hq_strategy": _strategy(gateway, "hq-operator"),
    }


def _search(gw: httpx.Client, who: str, **params: Any) -> list[dict[str, Any]]:
    return _ok(gw.get(AUDIT, params=params, headers=operator_headers(gw, who)))["records"]


def test_one_search_finds_who_did_what_in_every_service(gateway: httpx.Client, objects) -> None:
    records = _search(gateway, "hq-viewer", limit=200)
    by_object = {(r["service"], r["entity"], r["entity_id"]): r for r in records}
    item = by_object[("content", "item", objects["sh_item"])]
    assert item["operator_id"] == "sh-operator" and item["branch"] == "shanghai" and item["action"]
    benefit = by_object[("benefits", "benefit", objects["hq_benefit"])]
    assert (
        benefit["operator_id"] == "hq-operator" and benefit["action"] == "drafted" and benefit["branch"] == ""
    )
    campaign = by_object[("conversion", "campaign", objects["sh_campaign"])]
    assert campaign["operator_id"] == "sh-operator" and campaign["branch"] == "shanghai"
    assert campaign["action"].startswith("proposed")
    strategy = by_object[("reach", "strategy", objects["hq_strategy"])]
    assert strategy["operator_id"] == "hq-operator" and strategy["action"] == "revision_drafted"
    keys = [(r["at"], r["service"], r["record_id"]) for r in records]
    assert keys == sorted(keys, reverse=True)


def test_filters_are_exact_and_combine(gateway: httpx.Client, objects) -> None:
    only = _search(gateway, "hq-viewer", entity_id=objects["bj_item"])
    assert only and {r["entity_id"] for r in only} == {objects["bj_item"]}
    mine = _search(gateway, "hq-admin", by_operator="bj-operator", service="content", limit=200)
    assert mine and {(r["operator_id"], r["service"]) for r in mine} == {("bj-operator", "content")}
    drafted = _search(gateway, "hq-viewer", action="drafted", entity="benefit", limit=200)
    assert objects["sh_benefit"] in {r["entity_id"] for r in drafted}
    assert {r["action"] for r in drafted} == {"drafted"}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _search(gateway, "hq-viewer", since=future) == []
    past = (datetime.now(UTC) - timedelta(days=3650)).isoformat()
    assert _search(gateway, "hq-viewer", until=past) == []


def test_a_branch_operator_sees_only_its_branch(gateway: httpx.Client, objects) -> None:
    records = _search(gateway, "sh-operator", limit=200)
    ids = {r["entity_id"] for r in records}
    assert {objects["sh_item"], objects["sh_benefit"], objects["sh_campaign"]} <= ids
    assert not ids & {
        objects["bj_item"],
        objects["hq_benefit"],
        objects["bj_campaign"],
        objects["hq_strategy"],
    }
    assert {r["branch"] for r in records if r["entity"] != "slot"} == {"shanghai"}
    assert _search(gateway, "sh-operator", entity_id=objects["bj_item"]) == []


def test_pages_walk_the_whole_trail_without_gaps_or_repeats(gateway: httpx.Client, objects) -> None:
    headers = operator_headers(gateway, "hq-viewer")
    services = {r["service"] for r in _search(gateway, "hq-viewer", limit=200)}
    # identity's registry changes (the demo load's) may be older
    assert services - {"identity"} == {"content", "benefits", "conversion", "reach"}
    # the system's own workers (reach's scheduler, consumers of earlier tests' events) keep writing
    # records: compare a trail that cannot grow, up to a second ago
    until = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    # at most 198 records, a whole number of pages of 3: on a long trail the walk stops at the same cut
    whole = _search(gateway, "hq-viewer", limit=198, until=until)
    assert len(whole) > 6  # several pages of 3, across both trails
    walked: list[dict[str, Any]] = []
    token = ""
    while len(walked) < len(whole):
        params = {"limit": 3, "page_token": token, "until": until}
        page = _ok(gateway.get(AUDIT, params=params, headers=headers))
        walked += page["records"]
        token = page["next_page_token"]
        if not token:
            break
    key = ("service", "record_id", "at")
    assert [tuple(r[k] for k in key) for r in walked] == [tuple(r[k] for k in key) for r in whole]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"service": "ledger"},
        {"service": "Content"},
        {"since": "last week"},
        {"since": "2026-01-01T00:00:00"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"page_token": "abc"},
        {"page_token": "bm90LWEtY3Vyc29y"},  # base64url, but of no cursor
        {"page_token": "1764382312345678.identity.12"},  # a cursor in the clear: tokens are opaque
        {"by_operator": "<script>"},
        {"entity_id": "a b"},
    ],
)
def test_bad_input_is_a_422_problem(gateway: httpx.Client, params: dict[str, str]) -> None:
    reply = gateway.get(AUDIT, params=params, headers=operator_headers(gateway, "hq-viewer"))
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")


def test_anonymous_is_refused(gateway: httpx.Client) -> None:
    assert gateway.get(AUDIT).status_code == 401


def _walk(gw: httpx.Client, params: dict[str, Any]) -> list[tuple[str, int]]:
    """Every record of a search two at a time, as (service, record id)."""
    headers = operator_headers(gw, "hq-viewer")
    seen: list[tuple[str, int]] = []
    token = ""
    for _ in range(50):
        page = _ok(gw.get(AUDIT, params={**params, "limit": 2, "page_token": token}, headers=headers))
        seen += [(r["service"], r["record_id"]) for r in page["records"]]
        token = page["next_page_token"]
        if not token:
            return seen
    raise AssertionError("paging did not end")


def test_sort_at_pages_oldest_first_and_minus_at_newest_first(gateway: httpx.Client) -> None:
    since = datetime.now(UTC) - timedelta(milliseconds=5)
    made = [_item(gateway, "sh-operator"), _benefit(gateway, "hq-operator"), _item(gateway, "bj-operator")]
    made.append(_campaign(gateway, "sh-operator", "shanghai"))
    # up to now, not later: the system's workers may write records while the searches run
    window = {"since": since.isoformat(), "until": datetime.now(UTC).isoformat()}
    newest = _search(gateway, "hq-viewer", limit=200, **window)
    assert set(made) <= {r["entity_id"] for r in newest} and len(newest) >= 4
    oldest = _search(gateway, "hq-viewer", limit=200, sort="at", **window)
    keys = [(r["at"], r["service"], r["record_id"]) for r in oldest]
    assert keys == sorted(keys) and oldest == newest[::-1]
    assert [r["entity_id"] for r in oldest if r["entity_id"] in made] == made  # the order they were made
    assert _search(gateway, "hq-viewer", limit=200, sort="-at", **window) == newest

    ids = [(r["service"], r["record_id"]) for r in newest]
    assert _walk(gateway, {**window, "sort": "at"}) == ids[::-1]  # no record twice, none left out
    assert _walk(gateway, {**window, "sort": "-at"}) == ids


def test_a_sort_is_at_or_minus_at_and_keeps_its_own_page_tokens(gateway: httpx.Client, objects) -> None:
    headers = operator_headers(gateway, "hq-viewer")
    reply = gateway.get(AUDIT, params={"sort": "operator_id"}, headers=headers)
    assert reply.status_code == 422, reply.text
    error = reply.json()["errors"][0]
    assert error["loc"] == ["query", "sort"] and "(-?(at))" in error["msg"]  # the fields allowed
    assert reply.headers["content-type"].startswith("application/problem+json")
    for sort, other in (("at", "-at"), ("at", ""), ("-at", "at"), ("", "at")):
        token = _ok(gateway.get(AUDIT, params={"sort": sort, "limit": 1}, headers=headers))["next_page_token"]
        assert token
        refused = gateway.get(AUDIT, params={"sort": other, "page_token": token}, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_page_token"
