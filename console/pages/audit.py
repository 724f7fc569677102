"""Audit (审计): who did what, when, to which object, across every service; filterable, exportable as CSV."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from console.api import OpsApi, OpsApiDep
from console.formatting import csv_response, local_time
from console.nav import NavEntry
from console.pages.traces import LocalMinute, bank_moment
from console.sorting import Sort
from console.templating import render, translator

router = APIRouter(prefix="/audit")
NAV = NavEntry(label="nav.audit", path="/audit", order=40, section="platform")
SERVICES = ("benefits", "content", "conversion", "identity", "reach")
EXPORT_LIMIT = 10_000  # records in one CSV; narrow the filters for more
Word = Annotated[str, Query(pattern=r"^([A-Za-z0-9_.:-]{1,64})?$")]
CSV_HEADER = (
    "at (Asia/Shanghai)",
    "service",
    "operator",
    "operator branch",
    "action",
    "entity",
    "entity id",
    "object branch",
    "reason",
    "detail",
)


OBJECT_PAGES = {
    "item": "/content/items/{}",
    "benefit": "/benefits/{}",
    "campaign": "/conversion/campaigns/{}",
    "goal": "/goals/{}",
    "strategy": "/reach/strategies/{}",
}


def object_url(record: dict[str, Any]) -> str:
    """The console page of the record's object, when it has one."""
    page = OBJECT_PAGES.get(record["entity"])
    return page.format(quote(record["entity_id"], safe="")) if page else ""


def csv_row(record: dict[str, Any]) -> list[Any]:
    return [
        local_time(record["at"]),
        record["service"],
        record["operator_id"],
        record["operator_branch"],
        record["action"],
        record["entity"],
        record["entity_id"],
        record["branch"] or "head office",
        record["reason"],
        record["detail"],
    ]


async def every_record(api: OpsApi, params: dict[str, str]) -> list[dict[str, Any]]:
    """All records the filters match, page by page, up to EXPORT_LIMIT."""
    records: list[dict[str, Any]] = []
    token = ""
    while len(records) < EXPORT_LIMIT:
        page = await api.get("/v1/ops/audit", params={**params, "limit": 200, "page_token": token})
        records += page["records"]
        token = page["next_page_token"]
        if not token:
            break
    return records[:EXPORT_LIMIT]


@router.get("")
async def search(
    request: Request,
    api: OpsApiDep,
    service: Annotated[str, Query(pattern=r"^(benefits|content|conversion|identity|reach)?$")] = "",
    by_operator: Word = "",
    action: Word = "",
    entity: Word = "",
    entity_id: Annotated[str, Query(pattern=r"^([A-Za-z0-9_.:/-]{1,120})?$")] = "",
    since: LocalMinute = "",
    until: LocalMinute = "",
    page_token: Annotated[str, Query(max_length=120)] = "",
    export: Annotated[str, Query(pattern=r"^(csv)?$")] = "",
    sort: Sort = "",
) -> Response:
    t = translator(request)
    filters = {
        "service": service,
        "by_operator": by_operator,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "since": since,
        "until": until,
        "sort": sort,  # the API's: `at` oldest first, `-at` (or none) newest first
    }
    params = {**filters, "since": bank_moment(since), "until": bank_moment(until)}
    if export:
        records = await every_record(api, params)
        return csv_response("audit.csv", CSV_HEADER, (csv_row(r) for r in records))
    page = await api.get("/v1/ops/audit", params={**params, "limit": 50, "page_token": page_token})
    return await render(
        request,
        "audit/search.html",
        title=t("audit.title"),
        breadcrumb=[(t("audit.title"), None)],
        filters=filters,
        services=SERVICES,
        records=[{**r, "object_url": object_url(r)} for r in page["records"]],
        next_page_token=page["next_page_token"],
        page_params=filters,
        sort=sort or "-at",
    )
