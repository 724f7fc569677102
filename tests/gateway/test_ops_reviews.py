"""The reviewers' inbox `/v1/ops/reviews` through the gateway: every kind, branch scope, own work, paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.benefits.test_gateway_benefits import approved_coupon
from tests.support.actors import operator_headers

REVIEWS = "/v1/ops/reviews"


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _variant(title: str) -> dict[str, Any]:
    texts = [
        {"locale": "zh-Hans", "title": f"{title}（中文）", "body": "每月储蓄计划"},
        {"locale": "en", "title": title, "body": "Monthly plan"},
    ]
    return {"edition": "standard", "texts": texts}


def _ok(resp: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    return resp.json()


def _submitted_item(gw: httpx.Client, author: str) -> str:
    item_id = _uid("rv-item")
    headers = operator_headers(gw, author)
    body = {"item_id": item_id, "type": "notice", "variants": [_variant(f"Hours {item_id}")]}
    _ok(gw.post("/v1/ops/content/items", json=body, headers=headers))
    _ok(gw.post(f"/v1/ops/content/items/{item_id}/submit", headers=headers), 200)
    return item_id


def _drafted_benefit(gw: httpx.Client, author: str) -> str:
    benefit_id = _uid("rv-ben")
    body = {
        "benefit_id": benefit_id,
        "name": "Reviewed coupon",
        "kind": "fixed_coupon",
        "funder": "dept:retail",
        "face_value": 500,
        "total_budget": 50_000,
        "usable_scopes": ["app:*"],
        "valid_days": 7,
    }
    _ok(gw.post("/v1/ops/benefits", json=body, headers=operator_headers(gw, author)))
    return benefit_id


def _strategy(gw: httpx.Client, author: str) -> str:
    spec = {
        "name": _uid("rv-welcome"),
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": "Welcome", "body": "Hello"},
        "trigger": {"event_type": "identity.app_account.linked"},
    }
    return _ok(gw.post("/v1/ops/reach/strategies", json=spec, headers=operator_headers(gw, author)))[
        "strategy_id"
    ]


def _campaign(gw: httpx.Client, author: str, branch: str | None) -> str:
    body = {
        "campaign_id": _uid("rv-camp"),
        "partner_id": "ride",
        "name": "Reviewed rides",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/reviewed",
        "postback_milestones": ["linked"],
        **({"branch": branch} if branch else {}),
    }
    _ok(gw.post("/v1/ops/conversion/campaigns", json=body, headers=operator_headers(gw, author)))
    return str(body["campaign_id"])


def _all(gw: httpx.Client, who: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of the inbox, two items at a time (the token crosses kinds and services)."""
    items: list[dict[str, Any]] = []
    token = ""
    for _ in range(500):
        page = _ok(
            gw.get(
                REVIEWS,
                params={"page_size": 2, **params, **({"page_token": token} if token else {})},
                headers=operator_headers(gw, who),
            ),
            200,
        )
        assert len(page["items"]) <= 2
        items.extend(page["items"])
        token = page["next_page_token"]
        if not token:
            return items
    raise AssertionError("the inbox never ended")


@pytest.fixture(scope="module")
def queued(gateway: httpx.Client) -> dict[tuple[str, str], str]:
    """One waiting object of every kind, written by head office and by the Shanghai branch."""
    coupon = approved_coupon(gateway, valid_until="2099-01-01T00:00:00Z", valid_days=0)
    top_up = {"total_budget_increase": 1_000, "reason": "more riders"}
    change = _ok(
        gateway.post(
            f"/v1/ops/benefits/{coupon}/top-ups",
            json=top_up,
            headers=operator_headers(gateway, "hq-reviewer"),
        )
    )["change_id"]
    return {
        ("content_item", "sh-operator"): _submitted_item(gateway, "sh-operator"),
        ("content_item", "hq-operator"): _submitted_item(gateway, "hq-operator"),
        ("benefit", "hq-operator"): _drafted_benefit(gateway, "hq-operator"),
        ("benefit", "sh-operator"): _drafted_benefit(gateway, "sh-operator"),
        ("benefit_change", "hq-reviewer"): change,
        ("strategy", "sh-operator"): _strategy(gateway, "sh-operator"),
        ("campaign", "hq-operator"): _campaign(gateway, "hq-operator", None),
        ("campaign", "sh-operator"): _campaign(gateway, "sh-operator", "shanghai"),
    }


def _found(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["kind"], i["object_id"]): i for i in items}


def test_head_office_reviewer_sees_every_kind_and_may_decide_all_but_its_own(
    gateway: httpx.Client, queued: dict[tuple[str, str], str]
) -> None:
    found = _found(_all(gateway, "hq-reviewer"))
    for (kind, author), object_id in queued.items():
        item = found[(kind, object_id)]
        own = author == "hq-reviewer"
        assert (item["own_work"], item["can_approve"]) == (own, not own), (kind, item)
        assert author in item["authors"], item
    # a strategy in review is rejected with a reason like every other kind (reach's reject route)
    assert found[("strategy", queued["strategy", "sh-operator"])]["can_reject"] is True
    assert found[("content_item", queued["content_item", "sh-operator"])]["branch"] == "shanghai"
    own_change = found[("benefit_change", queued["benefit_change", "hq-reviewer"])]
    coupon = own_change["parent_id"]
    # the change carries its benefit's name and drafter from the same list answer
    assert own_change["title"] == "top_up: Ride coupon" and own_change["branch"] is None
    assert own_change["authors"] == ["hq-reviewer", "hq-operator"]
    refused = gateway.post(
        f"/v1/ops/benefits/{coupon}/changes/{own_change['object_id']}/review",
        json={"approve": True},
        headers=operator_headers(gateway, "hq-reviewer"),
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "self_approval")  # as the inbox said


def test_a_branch_operator_sees_only_its_branch_and_approves_nothing(
    gateway: httpx.Client, queued: dict[tuple[str, str], str]
) -> None:
    mine = {(k, o) for (k, author), o in queued.items() if author == "sh-operator"}
    others = {(k, o) for (k, author), o in queued.items() if author != "sh-operator"}
    shanghai = _found(_all(gateway, "sh-operator"))
    assert mine <= shanghai.keys() and not others & shanghai.keys()
    assert all(i["branch"] == "shanghai" and not i["can_approve"] for i in shanghai.values())
    assert all(shanghai[key]["own_work"] for key in mine)
    beijing = _found(_all(gateway, "bj-operator"))
    assert not (mine | others) & beijing.keys()


@pytest.mark.parametrize("who", ["hq-reviewer", "sh-operator", "bj-operator"])
def test_kind_filter_and_counts_agree_with_the_pages(
    gateway: httpx.Client, queued: dict[tuple[str, str], str], who: str
) -> None:
    """Each kind's count is its service's COUNT in the caller's scope: the length of that kind's list,
    head office's every branch, a branch only its own (the branch's own queued items are in it)."""
    counts = _ok(gateway.get(f"{REVIEWS}/counts", headers=operator_headers(gateway, who)), 200)
    by_kind = {c["kind"]: c["count"] for c in counts["kinds"]}
    assert list(by_kind) == ["content_item", "benefit", "benefit_change", "strategy", "campaign"]
    assert not any(c["capped"] for c in counts["kinds"])
    every = _all(gateway, who)
    assert counts["total"] == len(every) == sum(by_kind.values())
    for kind, n in by_kind.items():
        items = _all(gateway, who, kind=kind)
        assert {i["kind"] for i in items} <= {kind}
        assert n == len(items) == sum(1 for i in every if i["kind"] == kind), kind
    queued_here = {(k, o) for (k, author), o in queued.items() if who == "hq-reviewer" or author == who}
    assert queued_here <= {(i["kind"], i["object_id"]) for i in every}
    if who != "hq-reviewer":  # head office counts every branch's items and its own, never the other way
        hq = operator_headers(gateway, "hq-reviewer")
        everywhere = {
            c["kind"]: c["count"] for c in _ok(gateway.get(f"{REVIEWS}/counts", headers=hq), 200)["kinds"]
        }
        for kind, n in by_kind.items():
            head_office_own = sum(1 for k, author in queued if k == kind and author.startswith("hq-"))
            assert everywhere[kind] >= n + head_office_own, kind


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "bogus"},
        {"page_size": 0},
        {"page_size": 101},
        {"page_token": "bogus"},
        {"page_token": "nothing:"},
        {"page_token": "campaign:", "kind": "strategy"},
        {"page_token": "campaign:<script>"},
        {"page_token": "x" * 81},
    ],
)
def test_bad_queries_are_problems(gateway: httpx.Client, params: dict[str, Any]) -> None:
    resp = gateway.get(REVIEWS, params=params, headers=operator_headers(gateway, "hq-reviewer"))
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", [REVIEWS, f"{REVIEWS}/counts"])
def test_operators_only(gateway: httpx.Client, path: str) -> None:
    assert gateway.get(path).status_code == 401


def _position(item: dict[str, Any], field: str) -> tuple[Any, Any, str]:
    """Where an item stands in a sorted inbox: (time, kind, id) by time, (kind, time, id) by kind."""
    at = item["submitted_at"]
    value = datetime.fromisoformat(at) if at else datetime.min.replace(tzinfo=UTC)
    if field == "kind":
        return item["kind"], value, item["object_id"]
    return value, item["kind"], item["object_id"]


@pytest.mark.parametrize("field", ["submitted_at", "kind"])
def test_a_sorted_inbox_merges_every_queue_by_the_field_both_ways_two_at_a_time(
    gateway: httpx.Client, queued: dict[tuple[str, str], str], field: str
) -> None:
    late = _submitted_item(gateway, "sh-operator")  # the newest: last by time, amid the kinds by default
    every = {(i["kind"], i["object_id"]) for i in _all(gateway, "sh-operator")}
    ascending = _all(gateway, "sh-operator", sort=field)
    keys = [(i["kind"], i["object_id"]) for i in ascending]
    assert len(keys) == len(set(keys)) and set(keys) == every  # none twice, none left out
    positions = [_position(i, field) for i in ascending]
    assert positions == sorted(positions)
    # every kind this module queued (earlier tests of the suite may have left others, e.g. benefit changes)
    assert {i["kind"] for i in ascending} >= {"content_item", "benefit", "strategy", "campaign"}
    descending = _all(gateway, "sh-operator", sort=f"-{field}")
    assert descending == ascending[::-1]
    if field == "submitted_at":  # the kinds interleave by time, unlike the default kind-by-kind order
        assert ascending[-1]["object_id"] == late and descending[0]["object_id"] == late
        headers = operator_headers(gateway, "hq-reviewer")
        whole = _ok(gateway.get(REVIEWS, params={"sort": field, "page_size": 100}, headers=headers), 200)
        times = [_position(i, field) for i in whole["items"]]
        assert times == sorted(times)


def test_a_sort_names_its_fields_and_its_tokens_serve_only_it(
    gateway: httpx.Client, queued: dict[tuple[str, str], str]
) -> None:
    headers = operator_headers(gateway, "hq-reviewer")
    bad = gateway.get(REVIEWS, params={"sort": "title"}, headers=headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert "submitted_at" in bad.json()["errors"][0]["msg"] and "kind" in bad.json()["errors"][0]["msg"]

    def first_token(**params: Any) -> str:
        page = _ok(gateway.get(REVIEWS, params={"page_size": 1, **params}, headers=headers), 200)
        assert page["next_page_token"], page
        return page["next_page_token"]

    by_time, unsorted = first_token(sort="submitted_at"), first_token()
    for sort, token in (
        ("-submitted_at", by_time),
        ("kind", by_time),
        ("", by_time),
        ("submitted_at", unsorted),
        ("submitted_at", "~" + "e30"),  # base64url of {}: no position
    ):
        params = {"page_token": token, **({"sort": sort} if sort else {})}
        refused = gateway.get(REVIEWS, params=params, headers=headers)
        assert refused.status_code == 422, (sort, refused.text)
        assert refused.json()["code"] == "invalid_page_token"
    own = {"sort": "submitted_at", "page_token": by_time}
    assert _ok(gateway.get(REVIEWS, params=own, headers=headers), 200)["items"]


def _top_up(gw: httpx.Client, coupon: str, author: str) -> str:
    body = {"total_budget_increase": 1_000, "reason": "more riders"}
    headers = operator_headers(gw, author)
    return str(_ok(gw.post(f"/v1/ops/benefits/{coupon}/top-ups", json=body, headers=headers))["change_id"])


def test_interleaved_kinds_merge_exactly_two_at_a_time_both_ways(gateway: httpx.Client) -> None:
    """Every kind submitted in turn, then in the reverse turn: the merged order is the order of
    submission across all five services, page after page, with no item twice and none left out."""
    coupons = [approved_coupon(gateway, valid_until="2099-01-01T00:00:00Z", valid_days=0) for _ in range(2)]
    write = {
        "content_item": lambda: _submitted_item(gateway, "hq-operator"),
        "benefit": lambda: _drafted_benefit(gateway, "hq-operator"),
        "benefit_change": lambda: _top_up(gateway, coupons.pop(), "hq-operator"),
        "strategy": lambda: _strategy(gateway, "hq-operator"),
        "campaign": lambda: _campaign(gateway, "hq-operator", None),
    }
    turn = list(write)
    submitted = [(kind, write[kind]()) for kind in [*turn, *turn[::-1]]]
    every = {(i["kind"], i["object_id"]) for i in _all(gateway, "hq-reviewer")}
    assert set(submitted) <= every
    for field in ("submitted_at", "kind"):
        ascending = _all(gateway, "hq-reviewer", sort=field)
        keys = [(i["kind"], i["object_id"]) for i in ascending]
        assert len(keys) == len(set(keys)) and set(keys) == every, field  # none twice, none left out
        positions = [_position(i, field) for i in ascending]
        assert positions == sorted(positions), field
        ours = [key for key in keys if key in submitted]
        if field == "submitted_at":
            assert ours == submitted  # in the order they were written, across the services
        else:
            assert ours == sorted(submitted, key=lambda key: (key[0], submitted.index(key)))
        assert _all(gateway, "hq-reviewer", sort=f"-{field}") == ascending[::-1], field
