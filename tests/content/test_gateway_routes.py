"""Content through the real gateway (HTTP, edge auth) against in-process identity and content services."""

from __future__ import annotations

from gateway.routes.content.apps import ServedItem
from tests.content.conftest import Desk

SLOT_URL = "/v1/apps/mbank/slots/home/top-banner"


def variant(edition: str, title: str, body: str = "Monthly savings plan") -> dict:
    return {
        "edition": edition,
        "texts": [
            {"locale": "en", "title": title, "body": body},
            {"locale": "zh-Hans", "title": f"{title}（中文）", "body": "每月储蓄计划"},
        ],
        "media": [{"kind": "image", "uri": "https://cdn.bank.example/b.png", "alt": title}],
        "deep_link": "mbank://savings/plan",
    }


async def test_content_desk_and_serving_through_the_gateway(desk: Desk) -> None:
    http, author, reviewer = desk.http, desk.ops("hq-author", "reviewer"), desk.ops("hq-reviewer", "reviewer")
    created = await http.post(
        "/v1/ops/content/items",
        headers=author,
        json={
            "item_id": "savings",
            "type": "banner",
            "variants": [variant("standard", "Save"), variant("elderly", "Save (large)")],
        },
    )
    assert created.status_code == 201, created.text
    assert (await http.post("/v1/ops/content/items/savings/submit", headers=author)).status_code == 200
    own = await http.post("/v1/ops/content/items/savings/approve", headers=author, json={})
    assert (own.status_code, own.json()["code"]) == (403, "own_work")
    assert (await http.post("/v1/ops/content/items/savings/approve", headers=reviewer)).status_code == 200
    published = await http.post("/v1/ops/content/items/savings/publish", headers=author)
    assert published.json()["published_version"] == 1

    assert (
        await http.post(
            "/v1/ops/content/slots", headers=author, json={"app_id": "mbank", "position": "home/top-banner"}
        )
    ).status_code == 201
    assert (await http.get(SLOT_URL, headers=desk.customer(desk.elderly_customer))).status_code == 204
    placed = await http.post(
        "/v1/ops/content/placements",
        headers=author,
        json={
            "placement_id": "p-hq",
            "slot_key": "mbank/home/top-banner",
            "item_id": "savings",
            "priority": 5,
            "schedule": {"starts_at": "2020-01-01T00:00:00+08:00"},
        },
    )
    assert placed.status_code == 201, placed.text

    served = await http.get(
        SLOT_URL, headers=desk.customer(desk.elderly_customer) | {"Accept-Language": "zh-CN,en;q=0.5"}
    )
    assert served.status_code == 200, served.text
    body = served.json()
    assert (body["edition"], body["locale"], body["title"]) == ("elderly", "zh-Hans", "Save (large)（中文）")
    # the body is the documented response model, field for field, made once and then sent as it is
    assert served.headers["content-type"] == "application/json"
    assert ServedItem.model_validate(body).model_dump(mode="json") == body and set(body) == set(
        ServedItem.model_fields
    )
    again = await http.get(
        SLOT_URL, headers=desk.customer(desk.elderly_customer) | {"Accept-Language": "zh-CN,en;q=0.5"}
    )
    assert (again.status_code, again.content) == (200, served.content)
    assert body["placement_id"] == "p-hq" and body["deep_link"] == "mbank://savings/plan"
    in_english = await http.get(f"{SLOT_URL}?locale=en", headers=desk.customer(desk.elderly_customer))
    assert in_english.json()["title"] == "Save (large)"

    wrong_app = await http.get(SLOT_URL, headers=desk.customer(desk.elderly_customer, app="life"))
    assert wrong_app.status_code == 401
    missing = await http.get(
        "/v1/apps/mbank/slots/home/nowhere", headers=desk.customer(desk.elderly_customer)
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "slot_not_found")

    branch = desk.ops("sz-operator", "operator", "shenzhen")
    denied = await http.put(
        "/v1/ops/content/placements/p-hq", headers=branch, json={"item_id": "savings", "priority": 9}
    )
    assert (denied.status_code, denied.json()["code"]) == (404, "placement_not_found")
    viewer_only = await http.post("/v1/ops/content/items", headers=desk.ops("v", "viewer"), json={})
    assert (viewer_only.status_code, viewer_only.json()["code"]) == (403, "role_required")
    audit = await http.get("/v1/ops/content/items/savings/audit", headers=desk.ops("v", "viewer"))
    assert [e["action"] for e in audit.json()["items"]] == ["created", "submitted", "approved", "published"]


async def test_compliance_violation_is_a_409_naming_rule_and_text(desk: Desk) -> None:
    http, author, reviewer = desk.http, desk.ops("hq-author", "operator"), desk.ops("hq-reviewer", "reviewer")
    item = {
        "item_id": "safe-plan",
        "type": "product_card",
        "product_category": "wealth",
        "variants": [variant("standard", "Safe plan", "保本 and a guaranteed return")],
    }
    assert (await http.post("/v1/ops/content/items", headers=author, json=item)).status_code == 201
    submitted = await http.post(
        "/v1/ops/content/items/safe-plan/submit", headers=author, json={"reason": "Q4"}
    )
    assert {f["rule_id"] for f in submitted.json()["findings"]} == {
        "guaranteed_return",
        "wealth_risk_disclosure",
    }
    refused = await http.post(
        "/v1/ops/content/items/safe-plan/approve", headers=reviewer, json={"overrides": []}
    )
    assert refused.status_code == 409 and refused.headers["content-type"].startswith(
        "application/problem+json"
    )
    problem = refused.json()
    assert problem["code"] == "compliance_violation" and "'保本'" in problem["detail"]
    hits = {(v["rule_id"], v["field"], v["matched_text"]) for v in problem["violations"]}
    assert ("guaranteed_return", "variants.standard.en.body", "保本") in hits
    assert ("guaranteed_return", "variants.standard.en.body", "guaranteed return") in hits
    assert ("wealth_risk_disclosure", "variants.standard.zh-Hans.body", "") in hits


INVALID = [
    ("/v1/ops/content/items", {"type": "banner", "variants": [variant("standard", "x")], "extra": 1}),
    ("/v1/ops/content/items", {"type": "poster", "variants": [variant("standard", "x")]}),
    ("/v1/ops/content/items", {"type": "banner", "variants": [variant("standard", "x" * 201)]}),
    (
        "/v1/ops/content/items",
        {"type": "banner", "variants": [variant("standard", "x") | {"deep_link": "javascript:alert(1)"}]},
    ),
    (
        "/v1/ops/content/placements",
        {"slot_key": "mbank/home", "item_id": "x1", "schedule": {"starts_at": "2026-01-01T09:00:00"}},
    ),
    ("/v1/ops/content/placements", {"slot_key": "mbank/home", "item_id": "x1", "weight": 0}),
    ("/v1/ops/content/items/x1/rollback", {"version": 1}),
]


async def test_invalid_requests_are_422_problems(desk: Desk) -> None:
    for path, payload in INVALID:
        resp = await desk.http.post(path, headers=desk.ops("hq-reviewer", "reviewer"), json=payload)
        assert resp.status_code == 422, (path, payload, resp.text)
        assert resp.json()["code"] == "validation_failed"
    domain = await desk.http.post(
        "/v1/ops/content/items",
        headers=desk.ops("hq-reviewer", "reviewer"),
        json={
            "type": "banner",
            "variants": [{"edition": "standard", "texts": [{"locale": "en", "title": "only english"}]}],
        },
    )
    assert (domain.status_code, domain.json()["code"]) == (422, "locale_required")
    unknown = await desk.http.get("/v1/ops/content/items/nope", headers=desk.ops("v", "viewer"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "item_not_found")
