"""Editing an item's draft: every edition x locale text of the newest version, media kept as they are."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApiDep, ops_path
from console.pages.content import newest
from console.templating import render, translator

router = APIRouter(prefix="/content/drafts")
MAX_FIELD = 10_000


def _fields(version: dict[str, Any]) -> list[dict[str, str]]:
    """One row per edition x locale with the form field names of its title, body and deep link."""
    return [
        {
            "edition": v["edition"],
            "locale": text["locale"],
            "key": f"{v['edition']}.{text['locale']}",
            "title": text["title"],
            "body": text["body"],
            "deep_link": v.get("deep_link") or "",
        }
        for v in version.get("variants", [])
        for text in v["texts"]
    ]


def _variants(version: dict[str, Any], form: Any) -> list[dict[str, Any]]:
    """The newest version's variants with the typed texts and links; media stay as they were."""
    out = []
    for v in version.get("variants", []):
        texts = [
            {
                "locale": text["locale"],
                "title": str(form.get(f"title:{v['edition']}.{text['locale']}", ""))[:MAX_FIELD],
                "body": str(form.get(f"body:{v['edition']}.{text['locale']}", ""))[:MAX_FIELD],
            }
            for text in v["texts"]
        ]
        link = str(form.get(f"link:{v['edition']}", ""))[:MAX_FIELD]
        out.append(
            {"edition": v["edition"], "texts": texts, "media": v.get("media", [])}
            | ({"deep_link": link} if link else {})
        )
    return out


async def _page(request: Request, item: dict[str, Any], rows: list[dict[str, str]], reason: str,
                problem: ApiProblem | None) -> Response:  # fmt: skip
    t = translator(request)
    return await render(
        request,
        "content/edit.html",
        title=t("content.edit_title", item_id=item["item_id"]),
        breadcrumb=[
            (t("content.items_title"), "/content/items"),
            (item["item_id"], f"/content/items/{item['item_id']}"),
        ],
        item=item,
        rows=rows,
        reason=reason,
        problem=problem,
        status_code=problem.status if problem else 200,
    )


@router.get("/{item_id}")
async def edit_form(request: Request, item_id: str, api: OpsApiDep) -> Response:
    item = await api.get(ops_path("/v1/ops/content/items/{}", item_id))
    return await _page(request, item, _fields(newest(item)), "", None)


@router.post("/{item_id}")
async def save_draft(request: Request, item_id: str, api: OpsApiDep) -> Response:
    """Save the draft (a published item gets a new draft version; the published one stays served)."""
    item = await api.get(ops_path("/v1/ops/content/items/{}", item_id))
    form = await request.form()
    version = newest(item)
    variants = _variants(version, form)
    reason = str(form.get("reason", ""))[:MAX_FIELD]
    try:
        await api.put(
            ops_path("/v1/ops/content/items/{}/draft", item_id), {"variants": variants, "reason": reason}
        )
    except ApiProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        rows = [
            row
            | {
                "title": str(form.get(f"title:{row['key']}", "")),
                "body": str(form.get(f"body:{row['key']}", "")),
                "deep_link": str(form.get(f"link:{row['edition']}", "")),
            }
            for row in _fields(version)
        ]
        return await _page(request, item, rows, reason, problem)
    return RedirectResponse(f"/content/items/{ops_path('{}', item_id)}", status_code=303)
