"""Content on the whole running system (processes, demo data) as the apps and operators use it."""

from __future__ import annotations

import uuid

import httpx

from tests.support.actors import operator_headers, sign_in

SLOT = "/v1/apps/mbank/slots/home/top-banner"


def test_demo_elderly_customer_gets_the_elderly_banner_in_their_language(gateway: httpx.Client) -> None:
    session = sign_in(gateway, "mbank", "m-1002")
    resp = gateway.get(SLOT, headers=session.headers | {"Accept-Language": "en-GB, zh;q=0.5"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["item_id"], body["edition"], body["locale"]) == ("spring-savings", "elderly", "en")
    assert body["title"] == "Spring savings (large print)"
    other_app = gateway.get(SLOT, headers=sign_in(gateway, "life", "l-2001").headers)
    assert other_app.status_code == 401


def test_published_edit_reaches_customers_only_once_published(gateway: httpx.Client) -> None:
    author, reviewer = operator_headers(gateway, "hq-operator"), operator_headers(gateway, "hq-reviewer")
    item_id, position = f"e2e-{uuid.uuid4().hex[:8]}", f"e2e/{uuid.uuid4().hex[:8]}"

    def texts(title: str) -> list[dict[str, str]]:
        return [{"locale": "en", "title": title}, {"locale": "zh-Hans", "title": f"{title}（中文）"}]

    def step(method: str, path: str, headers: dict[str, str], body: dict | None = None) -> dict:
        resp = gateway.request(method, f"/v1/ops/content{path}", headers=headers, json=body)
        assert resp.status_code < 300, resp.text
        return resp.json()

    step(
        "POST",
        "/items",
        author,
        {"item_id": item_id, "type": "notice", "variants": [{"edition": "standard", "texts": texts("v1")}]},
    )
    for action, who in (("submit", author), ("approve", reviewer), ("publish", author)):
        step("POST", f"/items/{item_id}/{action}", who)
    step("POST", "/slots", author, {"app_id": "mbank", "position": position})
    step("POST", "/placements", author, {"slot_key": f"mbank/{position}", "item_id": item_id})
    customer = sign_in(gateway, "mbank", "m-1001").headers
    url = f"/v1/apps/mbank/slots/{position}?locale=en"
    assert gateway.get(url, headers=customer).json()["title"] == "v1"

    step(
        "PUT",
        f"/items/{item_id}/draft",
        author,
        {"variants": [{"edition": "standard", "texts": texts("v2")}]},
    )
    step("POST", f"/items/{item_id}/submit", author)
    step("POST", f"/items/{item_id}/approve", reviewer)
    assert gateway.get(url, headers=customer).json()["title"] == "v1"
    step("POST", f"/items/{item_id}/publish", author)
    assert gateway.get(url, headers=customer).json()["title"] == "v2"
    step("POST", f"/items/{item_id}/rollback", reviewer, {"version": 1, "reason": "v2 was premature"})
    assert gateway.get(url, headers=customer).json()["title"] == "v1"
