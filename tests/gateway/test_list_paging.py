"""The lists that answered a bare array page on the server now: two items a page, in the list's stable
order, nothing twice, nothing left out, and a page token the list did not give out is 422."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from services.conversion.models import PostbackDelivery
from services.runtime.clock import utcnow
from tests.benefits.test_gateway_benefits import approved_coupon
from tests.support.actors import operator_headers, partner_client, sign_in
from tests.support.journey_checks import _database_url
from tools.stack import Stack

Get = Callable[[str, dict[str, Any]], httpx.Response]
WHOLE = partial(json.dumps, sort_keys=True)  # an audit record has no id: the whole record is its key
# base64 junk, a key of no list (three values), bad shapes
NOT_GIVEN_OUT = ("bm90LWEtdG9rZW4", "WzEsMiwzXQ", "!bad!", "x" * 201)


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _ok(resp: httpx.Response, status: int = 201) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def walk(
    get: Get, path: str, key: str | Callable[[Any], Any], *, stable: bool = True, **params: Any
) -> list[Any]:
    """Every page two at a time: no page longer, no id twice, and (a list nobody else writes) the same
    items in the same order as one page of 100. Bad tokens and sizes are 422 problems."""
    of = key if callable(key) else (lambda item: item[key])
    seen: list[Any] = []
    token = ""
    for _ in range(500):
        page = _ok(get(path, {**params, "page_size": 2, **({"page_token": token} if token else {})}), 200)
        assert set(page) == {"items", "next_page_token"} and len(page["items"]) <= 2, page
        seen += [of(item) for item in page["items"]]
        token = page["next_page_token"]
        if not token:
            break
        assert len(page["items"]) == 2, path
    assert len(seen) == len(set(seen)), f"{path}: an item twice"
    if stable:
        whole = _ok(get(path, {**params, "page_size": 100}), 200)
        assert [of(item) for item in whole["items"]] == seen and whole["next_page_token"] is None, path
    for bad in NOT_GIVEN_OUT:
        refused = get(path, {**params, "page_token": bad})
        assert refused.status_code == 422, (path, bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    for size in (0, 101):
        assert get(path, {**params, "page_size": size}).status_code == 422, (path, size)
    return seen


def as_operator(gw: httpx.Client, operator_id: str) -> Get:
    headers = operator_headers(gw, operator_id)
    return lambda path, params: gw.get(path, params=params, headers=headers)


def test_a_forged_or_foreign_token_names_the_page_token(gateway: httpx.Client) -> None:
    refused = gateway.get(
        "/v1/ops/apps", params={"page_token": "WzEsMiwzXQ"}, headers=operator_headers(gateway, "hq-viewer")
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_page_token")


def test_the_app_registry_and_a_customers_consents_page(gateway: httpx.Client) -> None:
    apps = walk(as_operator(gateway, "hq-viewer"), "/v1/ops/apps", "app_id", stable=False)
    assert apps == sorted(apps) and {"mbank", "life", "wealth"} <= set(apps)
    customer = sign_in(gateway, "mbank", _uid("m-pages"))
    granted = []
    for recipient_type, recipient in (
        ("app", "life"),
        ("app", "wealth"),
        ("partner", "ride"),
        ("partner", "food"),
    ):
        consent = {
            "recipient_type": recipient_type,
            "recipient": recipient,
            "purpose": "cross_app_recognition",
            "data_categories": ["identity"],
            "text_version": "consent-2026.1",
        }
        granted.append(
            _ok(gateway.post("/v1/apps/mbank/consents", json=consent, headers=customer.headers))["consent_id"]
        )
    mine = walk(
        lambda p, q: gateway.get(p, params=q, headers=customer.headers),
        "/v1/apps/mbank/consents",
        "consent_id",
    )
    assert mine == granted[::-1]  # newest first


def test_a_benefits_changes_and_audit_trail_page(gateway: httpx.Client) -> None:
    benefit_id = approved_coupon(gateway)
    base = f"/v1/ops/benefits/{benefit_id}"
    reviewer = operator_headers(gateway, "hq-reviewer")
    asked = [
        _ok(
            gateway.post(
                f"{base}/top-ups",
                json={"total_budget_increase": 100 + n, "reason": f"more {n}"},
                headers=reviewer,
            )
        )["change_id"]
        for n in range(3)
    ]
    get = as_operator(gateway, "hq-viewer")
    assert walk(get, f"{base}/changes", "change_id") == asked  # oldest request first
    assert walk(get, f"{base}/changes", "change_id", status="pending") == asked
    trail = [json.loads(record) for record in walk(get, f"{base}/audit", WHOLE)]
    assert [r["action"] for r in trail] == ["drafted", "approved"] + ["top_up_requested"] * 3  # oldest first
    # another branch's benefit is still 404, page token or not
    beijing = operator_headers(gateway, "bj-operator")
    assert gateway.get(f"{base}/audit", params={"page_size": 2}, headers=beijing).status_code == 404


def test_content_slots_placements_and_their_audit_trails_page(gateway: httpx.Client) -> None:
    author, reviewer = operator_headers(gateway, "hq-operator"), operator_headers(gateway, "hq-reviewer")
    item_id = _uid("pg-item")
    texts = [{"locale": "zh-Hans", "title": "分页", "body": "每页两条"}, {"locale": "en", "title": "Pages"}]
    body = {"item_id": item_id, "type": "notice", "variants": [{"edition": "standard", "texts": texts}]}
    _ok(gateway.post("/v1/ops/content/items", json=body, headers=author))
    _ok(gateway.post(f"/v1/ops/content/items/{item_id}/submit", headers=author), 200)
    _ok(gateway.post(f"/v1/ops/content/items/{item_id}/approve", headers=reviewer), 200)
    _ok(gateway.post(f"/v1/ops/content/items/{item_id}/publish", headers=author), 200)
    get = as_operator(gateway, "hq-viewer")
    assert len(walk(get, f"/v1/ops/content/items/{item_id}/audit", WHOLE)) == 4

    app = f"pg{uuid.uuid4().hex[:6]}"
    slots = [f"{app}/{position}" for position in ("a", "b", "c")]
    registry = operator_headers(gateway, "hq-admin")
    app_body = {"app_id": app, "name": "Pages", "role": "vertical", "legal_entity": "Bank"}
    _ok(gateway.post("/v1/ops/apps", json=app_body, headers=registry))
    for slot in slots:
        _ok(
            gateway.post(
                "/v1/ops/content/slots", json={"app_id": app, "position": slot.split("/")[1]}, headers=author
            )
        )
    assert walk(get, "/v1/ops/content/slots", "slot_key", app_id=app) == slots

    placements = []
    for n, priority in enumerate((1, 9, 5, 9)):
        placement_id = _uid(f"pg{n}")
        placed = {
            "placement_id": placement_id,
            "slot_key": slots[0],
            "item_id": item_id,
            "priority": priority,
        }
        _ok(gateway.post("/v1/ops/content/placements", json=placed, headers=author))
        placements.append((-priority, placement_id))
    listed = walk(get, "/v1/ops/content/placements", "placement_id", slot_key=slots[0])
    assert listed == [p for _, p in sorted(placements)]  # highest priority first, then by id
    moved = placements[0][1]
    for priority in (2, 3):
        _ok(
            gateway.put(
                f"/v1/ops/content/placements/{moved}",
                json={"item_id": item_id, "priority": priority},
                headers=author,
            ),
            200,
        )
    assert len(walk(get, f"/v1/ops/content/placements/{moved}/audit", WHOLE)) == 3


@pytest.fixture
def conversion_database(stack: Stack) -> Iterator[Session]:
    with Session(create_engine(_database_url(stack, "conversion"))) as session:
        yield session


def test_campaign_versions_links_postbacks_and_goal_history_page(
    gateway: httpx.Client, conversion_database: Session
) -> None:
    operator, reviewer = operator_headers(gateway, "hq-operator"), operator_headers(gateway, "hq-reviewer")
    campaign_id = _uid("pg-camp")
    body = {
        "campaign_id": campaign_id,
        "partner_id": "ride",
        "name": "Paged rides",
        "target_app_id": "life",
        "landing_url": "https://life.bank.example/paged",
    }
    campaign = _ok(gateway.post("/v1/ops/conversion/campaigns", json=body, headers=operator))
    path = f"/v1/ops/conversion/campaigns/{campaign_id}"
    for name in ("Paged rides 2", "Paged rides 3"):
        review = {"version": campaign["pending"]["version"], "approve": True}
        _ok(gateway.post(f"{path}/review", json=review, headers=reviewer), 200)
        campaign = _ok(gateway.patch(path, json={"name": name}, headers=operator), 200)
    get = as_operator(gateway, "hq-viewer")
    assert walk(get, f"{path}/versions", "version") == [1, 2, 3]

    _ok(gateway.post(f"{path}/review", json={"version": 3, "approve": True}, headers=reviewer), 200)
    issued = [
        _ok(gateway.post(f"{path}/links", json={"scene": "pages"}, headers=operator))["link_id"]
        for _ in range(3)
    ]
    assert walk(get, f"{path}/links", "link_id") == sorted(issued)

    partner_id, long_ago = _uid("pg-partner"), utcnow() - timedelta(days=3650)
    seeded = []
    for n in range(3):
        delivery = PostbackDelivery(
            delivery_id=_uid("pg-dl"),
            partner_id=partner_id,
            campaign_id=campaign_id,
            customer_id="cus_paged",
            milestone="linked",
            kind="postback",
            click_id=_uid("click"),
            occurred_at=long_ago,
            status="dead_lettered",
            created_at=long_ago + timedelta(minutes=n),
        )
        conversion_database.add(delivery)
        seeded.append(delivery.delivery_id)
    ride = PostbackDelivery(**{**delivery.model_dump(), "delivery_id": _uid("pg-ride"), "partner_id": "ride"})
    conversion_database.add(ride)
    conversion_database.commit()
    listed = walk(get, "/v1/ops/conversion/postbacks", "delivery_id", partner_id=partner_id)
    assert listed == seeded[::-1]  # newest first
    with partner_client(gateway, "ride") as signed:
        shown = walk(
            lambda p, q: signed.request("GET", p, params={k: str(v) for k, v in q.items()}),
            "/v1/partner/postbacks",
            "delivery_id",
            stable=False,
            status="dead_lettered",
        )
    assert ride.delivery_id in shown and not set(seeded) & set(shown)

    goal_id = _uid("pg-goal")
    day = utcnow().date().isoformat()
    measure = {"metric": "acquired", "from_day": day, "to_day": day, "target": 1}
    goal = {"goal_id": goal_id, "objective": "paging", "name": "Paged goal", "measures": [measure]}
    _ok(gateway.post("/v1/ops/goals", json=goal, headers=operator))
    for version in (1, 2):
        update = {
            "version": version,
            "objective": "paging",
            "name": f"Paged goal {version}",
            "measures": [measure],
        }
        _ok(gateway.put(f"/v1/ops/goals/{goal_id}", json=update, headers=operator), 200)
    assert walk(get, f"/v1/ops/goals/{goal_id}/history", "version") == [1, 2, 3]
