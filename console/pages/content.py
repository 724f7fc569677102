"""Content items (内容中台): the list, one item's versions and variants per edition and locale, drafting."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApiDep, ops_path
from console.formatting import csv_response, local_time
from console.nav import NavEntry
from console.sorting import Sort, SortedPageToken
from console.templating import render, translator

router = APIRouter(prefix="/content")
NAV = [
    NavEntry(label="content.nav_items", path="/content/items", order=10, section="content"),
    NavEntry(label="content.nav_slots", path="/content/slots", order=20, section="content"),
]
ITEM_TYPES = ("banner", "article", "product_card", "notice")
CATEGORIES = ("", "wealth", "deposit", "loan", "insurance", "card", "fund")
EDITIONS = ("standard", "elderly", "student", "rural", "private_banking", "inclusive")
STATUS = r"^(active|archived)?$"
STAGE = r"^(draft|in_review|approved)?$"
# where the API's validation errors of a new item's body land in the form
FORM_FIELDS = {
    ("item_id",): "item_id",
    ("type",): "type",
    ("product_category",): "product_category",
    ("variants", 0, "texts", 0, "title"): "zh_title",
    ("variants", 0, "texts", 0, "body"): "zh_body",
    ("variants", 0, "texts", 1, "title"): "en_title",
    ("variants", 0, "texts", 1, "body"): "en_body",
    ("variants", 0, "deep_link"): "deep_link",
    ("variants", 1, "texts", 0, "title"): "extra_title",
    ("variants", 1, "texts", 0, "body"): "extra_body",
    ("variants", 1, "edition"): "extra_edition",
}


def newest(item: dict[str, Any]) -> dict[str, Any]:
    return max(item["versions"], key=lambda v: v["version"]) if item["versions"] else {}


def item_row(item: dict[str, Any]) -> dict[str, Any]:
    """What the list shows of an item: its newest version's stage and standard title."""
    latest = newest(item)
    titles = {
        t["locale"]: t["title"]
        for v in latest.get("variants", [])
        if v["edition"] == "standard"
        for t in v["texts"]
    }
    return {
        "item_id": item["item_id"],
        "type": item["type"],
        "title": titles.get("zh-Hans") or titles.get("en") or next(iter(titles.values()), ""),
        "status": item["status"],
        "stage": latest.get("status", ""),
        "version": latest.get("version", 0),
        "published_version": item["published_version"] or 0,
        "owner_branch": item["owner_branch"] or "",
        "created_at": item["created_at"],
    }


def highlighted(text: str, findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The text cut into (segment, rule id or "") so that each finding's matched text can be marked."""
    spans = sorted(
        (f["offset"], f["offset"] + len(f["matched_text"]), f["rule_id"])
        for f in findings
        if f["offset"] >= 0 and f["matched_text"]
    )
    out: list[tuple[str, str]] = []
    at = 0
    for start, end, rule in spans:
        if start < at or end > len(text):
            continue
        out += [(text[at:start], ""), (text[start:end], rule)]
        at = end
    out.append((text[at:], ""))
    return [(segment, rule) for segment, rule in out if segment]


def variant_texts(version: dict[str, Any], findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each edition x locale of a version with its title and body cut for highlighting."""
    rows = []
    for variant in version.get("variants", []):
        for text in variant["texts"]:
            base = f"variants.{variant['edition']}.{text['locale']}"
            rows.append(
                {
                    "edition": variant["edition"],
                    "locale": text["locale"],
                    "title": highlighted(
                        text["title"], [f for f in findings if f["field"] == f"{base}.title"]
                    ),
                    "body": highlighted(text["body"], [f for f in findings if f["field"] == f"{base}.body"]),
                    "deep_link": variant.get("deep_link") or "",
                    "media": variant.get("media", []),
                }
            )
    return rows


@router.get("/items")
async def list_items(
    request: Request,
    api: OpsApiDep,
    status: Annotated[str, Query(pattern=STATUS)] = "",
    stage: Annotated[str, Query(pattern=STAGE)] = "",
    page_token: SortedPageToken = "",
    sort: Sort = "",
    export: Annotated[str, Query(pattern=r"^(csv)?$")] = "",
) -> Response:
    params = {"status": status, "stage": stage, "sort": sort, "page_token": page_token, "page_size": 50}
    page = await api.get("/v1/ops/content/items", params)
    rows = [item_row(i) for i in page["items"]]
    if export:
        header = [
            "item_id",
            "type",
            "title",
            "status",
            "stage",
            "version",
            "published_version",
            "branch",
            "created_at",
        ]
        return csv_response(
            "content-items.csv",
            header,
            ([*list(r.values())[:-1], local_time(r["created_at"])] for r in rows),
        )
    t = translator(request)
    return await render(
        request,
        "content/items.html",
        title=t("content.items_title"),
        breadcrumb=[(t("nav.section_content"), None), (t("content.items_title"), None)],
        rows=rows,
        filters={"status": status, "stage": stage, "sort": sort},
        sort=sort,
        next_page_token=page.get("next_page_token"),
        page_params={"status": status, "stage": stage, "sort": sort},
    )


@router.get("/items/new")
async def new_item(request: Request, api: OpsApiDep) -> Response:
    return await _item_form(request, form={"type": "banner", "extra_edition": ""}, problem=None)


async def _item_form(request: Request, *, form: dict[str, str], problem: ApiProblem | None) -> Response:
    t = translator(request)
    errors: dict[str, str] = {}
    for error in problem.errors if problem else []:
        loc = tuple(int(p) if str(p).isdigit() else p for p in error.get("loc") or ())
        name = FORM_FIELDS.get(loc[1:] if loc[:1] == ("body",) else loc)
        if name and name not in errors:
            errors[name] = str(error.get("msg", ""))
    return await render(
        request,
        "content/item_form.html",
        title=t("content.new_item"),
        breadcrumb=[(t("content.items_title"), "/content/items"), (t("content.new_item"), None)],
        form=form,
        errors=errors,
        problem=problem,
        item_types=ITEM_TYPES,
        categories=CATEGORIES,
        editions=EDITIONS[1:],
        status_code=problem.status if problem else 200,
    )


def _text(locale: str, title: str, body: str) -> dict[str, str]:
    return {"locale": locale, "title": title, "body": body}


@router.post("/items")
async def create_item(
    request: Request,
    api: OpsApiDep,
    item_id: Annotated[str, Form(max_length=40)] = "",
    type: Annotated[str, Form(max_length=20)] = "banner",
    product_category: Annotated[str, Form(max_length=20)] = "",
    zh_title: Annotated[str, Form(max_length=400)] = "",
    zh_body: Annotated[str, Form(max_length=10_000)] = "",
    en_title: Annotated[str, Form(max_length=400)] = "",
    en_body: Annotated[str, Form(max_length=10_000)] = "",
    deep_link: Annotated[str, Form(max_length=1000)] = "",
    extra_edition: Annotated[str, Form(max_length=20)] = "",
    extra_title: Annotated[str, Form(max_length=400)] = "",
    extra_body: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Draft a new item: the standard variant in zh-Hans and en, optionally one more edition."""
    form = {k: v for k, v in locals().items() if isinstance(v, str)}
    standard: dict[str, Any] = {
        "edition": "standard",
        "texts": [_text("zh-Hans", zh_title, zh_body), _text("en", en_title, en_body)],
    }
    if deep_link:
        standard["deep_link"] = deep_link
    variants = [standard]
    if extra_edition:
        extra = {"edition": extra_edition, "texts": [_text("zh-Hans", extra_title, extra_body)]}
        variants.append(extra | ({"deep_link": deep_link} if deep_link else {}))
    body: dict[str, Any] = {"type": type, "variants": variants}
    if item_id:
        body["item_id"] = item_id
    if product_category:
        body["product_category"] = product_category
    try:
        created = await api.post("/v1/ops/content/items", body)
    except ApiProblem as problem:
        if problem.status != 422:
            raise
        return await _item_form(request, form=form, problem=problem)
    return RedirectResponse(f"/content/items/{created['item_id']}", status_code=303)


@router.get("/items/{item_id}")
async def item_detail(request: Request, item_id: str, api: OpsApiDep) -> Response:
    item = await api.get(ops_path("/v1/ops/content/items/{}", item_id))
    audit = await api.get_all(ops_path("/v1/ops/content/items/{}/audit", item_id))
    latest = newest(item)
    compliance = await api.get(ops_path("/v1/ops/content/items/{}/compliance", item_id)) if latest else None
    t = translator(request)
    return await render(
        request,
        "content/item.html",
        title=t("content.item_title", item_id=item["item_id"]),
        breadcrumb=[(t("content.items_title"), "/content/items"), (item["item_id"], None)],
        item=item,
        versions=sorted(item["versions"], key=lambda v: -v["version"]),
        latest=latest,
        texts=variant_texts(latest, (compliance or {}).get("findings", [])),
        findings=(compliance or {}).get("findings", []),
        audit=audit,
        can_author=request.state.session.role in ("operator", "reviewer", "admin"),
    )


@router.post("/items/{item_id}/{action}")
async def item_action(
    request: Request,
    item_id: str,
    action: str,
    api: OpsApiDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Submit the draft for review, publish the approved version, or archive the item."""
    if action not in ("submit", "publish", "archive"):
        raise ApiProblem(404, "not_found", "no such action")
    await api.post(ops_path("/v1/ops/content/items/{}/" + action, item_id), {"reason": reason})
    return RedirectResponse(f"/content/items/{ops_path('{}', item_id)}", status_code=303)
