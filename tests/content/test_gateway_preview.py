"""The slot preview for operators through the real gateway: serving rules, no counted serve, branch scope."""

from __future__ import annotations

import httpx

from tests.content.conftest import Desk
from tests.content.test_gateway_routes import SLOT_URL, variant

SLOT = "mbank/home/top-banner"
PREVIEW = "/v1/ops/content/preview"


async def _publish(desk: Desk, item_id: str, title: str, editions: tuple[str, ...] = ("standard",)) -> None:
    author, reviewer = desk.ops("hq-author", "operator"), desk.ops("hq-reviewer", "reviewer")
    body = {"item_id": item_id, "type": "banner", "variants": [variant(e, f"{title} {e}") for e in editions]}
    for path, headers, payload in [
        ("/v1/ops/content/items", author, body),
        (f"/v1/ops/content/items/{item_id}/submit", author, {}),
        (f"/v1/ops/content/items/{item_id}/approve", reviewer, {}),
        (f"/v1/ops/content/items/{item_id}/publish", author, {}),
    ]:
        resp = await desk.http.post(path, headers=headers, json=payload)
        assert resp.status_code in (200, 201), resp.text


async def _place(
    http: httpx.AsyncClient, headers: dict[str, str], placement_id: str, item_id: str, **fields
) -> None:
    body = {"placement_id": placement_id, "slot_key": SLOT, "item_id": item_id} | fields
    body.setdefault("schedule", {"starts_at": "2020-01-01T00:00:00+08:00"})
    resp = await http.post("/v1/ops/content/placements", headers=headers, json=body)
    assert resp.status_code == 201, resp.text


async def _preview(desk: Desk, headers: dict[str, str], **params: str) -> httpx.Response:
    return await desk.http.get(PREVIEW, headers=headers, params={"slot_key": SLOT} | params)


def _shown(resp: httpx.Response) -> dict[str, int]:
    assert resp.status_code == 200, resp.text
    return {c["placement_id"]: c["share_bps"] for c in resp.json()["candidates"]}


async def test_preview_follows_the_serving_rules_without_counting_a_serve(desk: Desk) -> None:
    http, author, viewer = desk.http, desk.ops("hq-author", "operator"), desk.ops("leader", "viewer")
    assert (
        await http.post(
            "/v1/ops/content/slots", headers=author, json={"app_id": "mbank", "position": "home/top-banner"}
        )
    ).status_code == 201
    for item_id in ("save", "loan", "card"):
        await _publish(desk, item_id, item_id.title(), ("standard", "elderly"))
    await _publish(desk, "elder-only", "Elder", ("standard", "elderly"))
    await _place(http, author, "p-save", "save", priority=5, weight=3)
    await _place(http, author, "p-loan", "loan", priority=5, weight=1)
    await _place(http, author, "p-card", "card", priority=1)
    await _place(
        http, author, "p-elder", "elder-only", priority=9, cap_per_day=1, targeting={"editions": ["elderly"]}
    )

    assert _shown(await _preview(desk, viewer)) == {"p-save": 7500, "p-loan": 2500}
    english = await _preview(desk, viewer, locale="en")
    assert {c["item"]["title"] for c in english.json()["candidates"]} == {"Save standard", "Loan standard"}
    assert _shown(await _preview(desk, viewer, at="2019-06-01T12:00:00+08:00")) == {}

    for _ in range(3):  # a capped placement keeps showing in previews: previews count no serve
        assert _shown(await _preview(desk, viewer, edition="elderly")) == {"p-elder": 10000}
    customer = desk.customer(desk.elderly_customer)
    first, second = (await http.get(SLOT_URL, headers=customer)), (await http.get(SLOT_URL, headers=customer))
    assert first.json()["placement_id"] == "p-elder"
    assert second.json()["placement_id"] in {"p-save", "p-loan"}


async def test_a_branch_operator_previews_only_as_its_own_branch(desk: Desk) -> None:
    http, author = desk.http, desk.ops("hq-author", "operator")
    sz, hq = desk.ops("sz-operator", "operator", "shenzhen"), desk.ops("leader", "viewer")
    await http.post(
        "/v1/ops/content/slots", headers=author, json={"app_id": "mbank", "position": "home/top-banner"}
    )
    await _publish(desk, "save", "Save")
    await _publish(desk, "local", "Local")
    await _place(http, author, "p-save", "save", priority=1)
    await _place(http, sz, "p-sz", "local", priority=7)
    await _place(http, author, "p-gz", "local", priority=8, targeting={"branches": ["guangzhou"]})

    assert _shown(await _preview(desk, sz)) == {"p-sz": 10000}
    refused = await _preview(desk, sz, branch="guangzhou")
    assert (refused.status_code, refused.json()["code"]) == (403, "branch_scope")
    assert _shown(await _preview(desk, hq)) == {"p-save": 10000}
    assert _shown(await _preview(desk, hq, branch="guangzhou")) == {"p-gz": 10000}
    assert _shown(await _preview(desk, hq, branch="shenzhen")) == {"p-sz": 10000}


async def test_bad_preview_requests_are_problems(desk: Desk) -> None:
    viewer = desk.ops("leader", "viewer")
    for params, status, code in [
        ({"edition": "platinum"}, 422, "validation_failed"),
        ({"slot_key": "mbank"}, 422, "validation_failed"),
        ({"slot_key": "Mbank/<script>"}, 422, "validation_failed"),
        ({"tags": "a,,b"}, 422, "validation_failed"),
        ({"tags": "<x>"}, 422, "validation_failed"),
        ({"assurance_level": "9"}, 422, "validation_failed"),
        ({"at": "2026-01-01T09:00:00"}, 422, "validation_failed"),
        ({"locale": "fr"}, 422, "validation_failed"),
        ({"slot_key": "mbank/nowhere"}, 404, "slot_not_found"),
    ]:
        resp = await desk.http.get(PREVIEW, headers=viewer, params={"slot_key": SLOT} | params)
        assert (resp.status_code, resp.json().get("code")) == (status, code), (params, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await desk.http.get(PREVIEW, params={"slot_key": SLOT})).status_code == 401
