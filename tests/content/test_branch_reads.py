"""Branch scope on every content read, and four eyes, through the real gateway (every ops GET route)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.content.conftest import Desk
from tests.content.test_gateway_routes import variant

SLOT = "mbank/home/top-banner"
# Each owner's objects, by path parameter; "hq" is head office.
OBJECTS = {
    "item_id": {"hq": "hq-notice", "shenzhen": "sz-notice"},
    "placement_id": {"hq": "p-hq", "shenzhen": "p-sz"},
}
LIST_QUERY = {"/v1/ops/content/placements": {"slot_key": SLOT, "include_inactive": "true"}}
# What each list route lists; None: head office's slots, shared (every branch places into them).
LISTS = {
    "/v1/ops/content/items": "item_id",
    "/v1/ops/content/placements": "placement_id",
    "/v1/ops/content/slots": None,
}
PREVIEW = "/v1/ops/content/preview"
# What each operator's preview of the slot shows by default (a customer of its own branch).
PREVIEWED = {"hq": {"p-hq"}, "shenzhen": {"p-hq", "p-sz"}, "guangzhou": {"p-hq"}}


def _operators(desk: Desk) -> dict[str, dict[str, str]]:
    return {
        "hq": desk.ops("hq-viewer", "viewer"),
        "shenzhen": desk.ops("sz-viewer", "viewer", "shenzhen"),
        "guangzhou": desk.ops("gz-viewer", "viewer", "guangzhou"),
    }


async def _ok(resp: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    return resp.json()


async def _publish(desk: Desk, item_id: str, author: dict, reviewer: dict) -> None:
    http = desk.http
    item = {"item_id": item_id, "type": "notice", "variants": [variant("standard", f"Notice {item_id}")]}
    await _ok(await http.post("/v1/ops/content/items", headers=author, json=item), 201)
    await _ok(await http.post(f"/v1/ops/content/items/{item_id}/submit", headers=author))
    await _ok(await http.post(f"/v1/ops/content/items/{item_id}/approve", headers=reviewer))
    await _ok(await http.post(f"/v1/ops/content/items/{item_id}/publish", headers=author))


async def _seed(desk: Desk) -> None:
    http = desk.http
    hq_author, hq_reviewer = desk.ops("hq-author", "operator"), desk.ops("hq-reviewer", "reviewer")
    sz_author = desk.ops("sz-author", "operator", "shenzhen")
    sz_reviewer = desk.ops("sz-reviewer", "reviewer", "shenzhen")
    await _publish(desk, "hq-notice", hq_author, hq_reviewer)
    await _publish(desk, "sz-notice", sz_author, sz_reviewer)
    slot = {"app_id": "mbank", "position": "home/top-banner"}
    await _ok(await http.post("/v1/ops/content/slots", headers=hq_author, json=slot), 201)
    for placement_id, item_id, author in (("p-hq", "hq-notice", hq_author), ("p-sz", "sz-notice", sz_author)):
        placement = {"placement_id": placement_id, "slot_key": SLOT, "item_id": item_id}
        await _ok(await http.post("/v1/ops/content/placements", headers=author, json=placement), 201)


async def _check_preview(http: httpx.AsyncClient, operators: dict[str, dict[str, str]]) -> None:
    """A branch previews only as its own branch's customers; head office as any branch's."""
    for viewer, headers in operators.items():
        body = await _ok(await http.get(PREVIEW, params={"slot_key": SLOT}, headers=headers))
        assert {c["placement_id"] for c in body["candidates"]} == PREVIEWED[viewer], (viewer, body)
        other = "guangzhou" if viewer == "shenzhen" else "shenzhen"
        resp = await http.get(PREVIEW, params={"slot_key": SLOT, "branch": other}, headers=headers)
        if viewer == "hq":
            shown = {c["placement_id"] for c in (await _ok(resp))["candidates"]}
            assert shown == PREVIEWED[other], (viewer, other, shown)
        else:
            assert (resp.status_code, resp.json()["code"]) == (403, "branch_scope"), (viewer, resp.text)


def _listed(body: Any, key: str) -> set[str]:
    return {entry[key] for entry in body["items"]}


async def test_every_content_read_is_branch_scoped(desk: Desk) -> None:
    await _seed(desk)
    http, operators = desk.http, _operators(desk)
    spec = (await _ok(await http.get("/openapi.json")))["paths"]
    routes = sorted(p for p, ops in spec.items() if p.startswith("/v1/ops/content") and "get" in ops)
    assert len(routes) >= 7, routes
    for route in routes:
        params = re.findall(r"{(\w+)}", route)
        assert len(params) <= 1 and set(params) <= set(OBJECTS), f"no owned objects known for {route}"
        if params:
            param = params[0]
            for viewer, headers in operators.items():
                for owner, object_id in OBJECTS[param].items():
                    resp = await http.get(route.replace(f"{{{param}}}", object_id), headers=headers)
                    visible = viewer == "hq" or viewer == owner
                    assert resp.status_code == (200 if visible else 404), (route, viewer, owner, resp.text)
                    if not visible:  # exactly what an id that never existed gets
                        kind = param.removesuffix("_id")
                        assert (resp.json()["code"], resp.json()["detail"]) == (
                            f"{kind}_not_found",
                            f"no {kind} {object_id}",
                        )
                unknown = await http.get(route.replace(f"{{{param}}}", "no-such-thing"), headers=headers)
                assert unknown.status_code == 404, (route, viewer, unknown.text)
                assert unknown.json()["detail"] == f"no {param.removesuffix('_id')} no-such-thing"
            continue
        if route == PREVIEW:
            await _check_preview(http, operators)
            continue
        assert route in LISTS, f"unknown list route {route}"
        for viewer, headers in operators.items():
            body = await _ok(await http.get(route, params=LIST_QUERY.get(route, {}), headers=headers))
            key = LISTS[route]
            if key is None:
                assert SLOT in {s["slot_key"] for s in body["items"]}, (route, viewer)
                continue
            owned = OBJECTS[key]
            expected = (
                set(owned.values()) if viewer == "hq" else {owned[viewer]} if viewer in owned else set()
            )
            assert _listed(body, key) == expected, (route, viewer, body)


async def test_unknown_or_hidden_audit_trails_are_404(desk: Desk) -> None:
    await _seed(desk)
    gz = desk.ops("gz-viewer", "viewer", "guangzhou")
    for path in (
        "/v1/ops/content/items/never-created/audit",
        "/v1/ops/content/placements/never-placed/audit",
        "/v1/ops/content/items/sz-notice/audit",
        "/v1/ops/content/placements/p-sz/audit",
    ):
        resp = await desk.http.get(path, headers=gz)
        assert resp.status_code == 404 and resp.headers["content-type"].startswith("application/problem+json")
    trail = await _ok(
        await desk.http.get(
            "/v1/ops/content/items/sz-notice/audit", headers=desk.ops("x", "viewer", "shenzhen")
        )
    )
    assert [e["action"] for e in trail["items"]] == ["created", "submitted", "approved", "published"]
    no_version = await desk.http.get(
        "/v1/ops/content/items/sz-notice/compliance?version=99", headers=desk.ops("x", "viewer", "shenzhen")
    )
    assert (no_version.status_code, no_version.json()["code"]) == (404, "version_not_found")


async def test_four_eyes_through_the_gateway(desk: Desk) -> None:
    http = desk.http
    ann, ed, tess = (desk.ops(name, "reviewer") for name in ("hq-ann", "hq-ed", "hq-tess"))
    item = {"item_id": "rates", "type": "article", "variants": [variant("standard", "Rates")]}
    await _ok(await http.post("/v1/ops/content/items", headers=ann, json=item), 201)
    edited = await _ok(
        await http.put(
            "/v1/ops/content/items/rates/draft",
            headers=ed,
            json={"variants": [variant("standard", "New rates")]},
        )
    )
    version = edited["versions"][0]
    assert (version["author_id"], version["editor_ids"]) == ("hq-ann", ["hq-ed"])
    await _ok(await http.post("/v1/ops/content/items/rates/submit", headers=ann))
    for own in (ann, ed):
        refused = await http.post("/v1/ops/content/items/rates/approve", headers=own)
        assert (refused.status_code, refused.json()["code"]) == (403, "own_work")
    approved = await _ok(await http.post("/v1/ops/content/items/rates/approve", headers=tess))
    assert approved["versions"][0]["reviewer_id"] == "hq-tess"


def _write_body(route: str) -> dict[str, Any] | None:
    """A valid body for each ops write on one object, so that only the scope can refuse it."""
    suffix = route.rsplit("}", 1)[1]
    if suffix == "/draft":
        return {"variants": [variant("standard", "Changed")]}
    if suffix == "/rollback":
        return {"version": 1, "reason": "probe"}
    if suffix in ("/reject", "/archive"):
        return {"reason": "probe"}
    if route.startswith("/v1/ops/content/placements/"):
        return {"item_id": "hq-notice"}
    return None


async def test_every_content_write_on_another_branchs_object_is_404(desk: Desk) -> None:
    await _seed(desk)
    http = desk.http
    spec = (await _ok(await http.get("/openapi.json")))["paths"]
    writes = [
        (method, route)
        for route, ops in sorted(spec.items())
        if route.startswith("/v1/ops/content") and re.search(r"{(item_id|placement_id)}", route)
        for method in ops
        if method in ("post", "put", "delete")
    ]
    assert len(writes) >= 9, writes
    guangzhou = desk.ops("gz-reviewer", "reviewer", "guangzhou")
    for method, route in writes:
        param = re.findall(r"{(\w+)}", route)[0]
        for owner in ("hq", "shenzhen"):
            url = route.replace(f"{{{param}}}", OBJECTS[param][owner])
            resp = await http.request(method.upper(), url, headers=guangzhou, json=_write_body(route))
            assert resp.status_code == 404, (method, url, resp.text)
            assert resp.json()["code"] == f"{param.removesuffix('_id')}_not_found"
    gz_item = {"placement_id": "p-gz", "slot_key": SLOT, "item_id": "sz-notice"}
    placed = await http.post("/v1/ops/content/placements", headers=guangzhou, json=gz_item)
    assert (placed.status_code, placed.json()["code"]) == (404, "item_not_found")
    # Head office's content is the library branches place for their own customers.
    hq_item = gz_item | {"item_id": "hq-notice"}
    await _ok(await http.post("/v1/ops/content/placements", headers=guangzhou, json=hq_item), 201)
    # Head office manages every placement, a branch's own item included.
    moved = {"item_id": "sz-notice", "priority": 3}
    hq = desk.ops("hq-operator", "operator")
    assert (await _ok(await http.put("/v1/ops/content/placements/p-sz", headers=hq, json=moved)))[
        "priority"
    ] == 3


async def test_review_queue_is_branch_scoped(desk: Desk) -> None:
    http = desk.http
    queued = {}
    for branch in ("", "shenzhen", "guangzhou"):
        author = desk.ops(f"author-{branch or 'hq'}", "operator", branch or None)
        item_id = f"queued-{branch or 'hq'}"
        item = {"item_id": item_id, "type": "notice", "variants": [variant("standard", "Queued")]}
        await _ok(await http.post("/v1/ops/content/items", headers=author, json=item), 201)
        await _ok(await http.post(f"/v1/ops/content/items/{item_id}/submit", headers=author))
        queued[branch] = item_id
    drafted = {"item_id": "drafted-hq", "type": "notice", "variants": [variant("standard", "Draft")]}
    await _ok(await http.post("/v1/ops/content/items", headers=desk.ops("a", "operator"), json=drafted), 201)
    for branch in ("", "shenzhen", "guangzhou", "beijing"):
        reviewer = desk.ops("r", "reviewer", branch or None)
        page = await _ok(await http.get("/v1/ops/content/items?stage=in_review", headers=reviewer))
        expected = set(queued.values()) if not branch else {queued[branch]} if branch in queued else set()
        assert {i["item_id"] for i in page["items"]} == expected, branch
    bad = await http.get("/v1/ops/content/items?stage=published", headers=desk.ops("r", "reviewer"))
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
