"""Platform health (平台健康): consumers and lag, dead letters (inspect, replay), postback failures."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import OpsApi, OpsApiDep, ops_path
from console.formatting import csv_response, local_time
from console.nav import NavEntry
from console.templating import render, translator

router = APIRouter(prefix="/platform")
DEAD_LETTERS = "/v1/ops/platform/dead-letters"
CONSUMER = r"^([A-Za-z0-9_-]{1,100})?$"


async def dead_letters_waiting(api: OpsApi) -> int | None:
    """Dead letters held across consumers: the badge of the health page."""
    consumers = await api.get("/v1/ops/platform/consumers")
    return sum(c["dead_letters"] for c in consumers["items"])


NAV = NavEntry(
    label="health.nav",
    path="/platform/health",
    order=10,
    section="platform",
    roles=("admin",),
    count=dead_letters_waiting,
)
CONSUMER_COLUMNS = (
    "stream",
    "consumer",
    "filter_subject",
    "pending",
    "ack_pending",
    "redelivered",
    "dead_letters",
    "last_delivered_at",
)


def lag_chart(consumers: list[dict[str, Any]], t: Any) -> dict[str, Any]:
    """Pending messages and dead letters per consumer, as horizontal bars."""
    names = [c["consumer"] for c in consumers]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "data": [t("health.pending"), t("health.dead_letters")]},
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": {"type": "category", "data": names},
        "series": [
            {"name": t("health.pending"), "type": "bar", "data": [c["pending"] for c in consumers]},
            {"name": t("health.dead_letters"), "type": "bar", "data": [c["dead_letters"] for c in consumers]},
        ],
    }


@router.get("/health")
async def health(
    request: Request,
    api: OpsApiDep,
    consumer: Annotated[str, Query(pattern=CONSUMER)] = "",
    page_token: Annotated[str, Query(pattern=r"^([0-9]{1,18})?$")] = "",
    export: Annotated[str, Query(pattern=r"^(consumers|dead_letters)?$")] = "",
    replayed: Annotated[str, Query(pattern=r"^([0-9]{1,18})?$")] = "",
) -> Response:
    consumers = (await api.get("/v1/ops/platform/consumers"))["items"]
    letters = await api.get(DEAD_LETTERS, {"consumer": consumer, "page_token": page_token, "limit": 50})
    if export == "consumers":
        rows = (
            [c[k] if k != "last_delivered_at" else local_time(c[k]) for k in CONSUMER_COLUMNS]
            for c in consumers
        )
        return csv_response("consumers.csv", CONSUMER_COLUMNS, rows)
    if export == "dead_letters":
        header = ("sequence", "consumer", "subject", "event_id", "event_type", "error", "dead_lettered_at")
        rows = (
            [d[k] if k != "dead_lettered_at" else local_time(d[k]) for k in header] for d in letters["items"]
        )
        return csv_response("dead-letters.csv", header, rows)
    dead = await api.get("/v1/ops/conversion/postbacks", {"status": "dead_lettered", "page_size": 50})
    failures = dead["items"]
    replays = (await api.get("/v1/ops/platform/replays", {"limit": 200}))["items"]
    t = translator(request)
    return await render(
        request,
        "health/health.html",
        title=t("health.title"),
        breadcrumb=[(t("nav.section_platform"), None), (t("health.title"), None)],
        consumers=consumers,
        chart=lag_chart(consumers, t),
        letters=letters["items"],
        next_page_token=letters["next_page_token"],
        page_params={"consumer": consumer},
        consumer=consumer,
        consumer_names=sorted({c["consumer"] for c in consumers}),
        postback_failures=failures,
        replayed=replayed,
        recent_replays=list(reversed(replays))[:10],
        total_lag=sum(c["pending"] for c in consumers),
        total_dead=sum(c["dead_letters"] for c in consumers),
    )


@router.get("/dead-letters/{sequence}")
async def dead_letter(request: Request, sequence: str, api: OpsApiDep) -> Response:
    letter = await api.get(ops_path(DEAD_LETTERS + "/{}", sequence))
    t = translator(request)
    return await render(
        request,
        "health/dead_letter.html",
        title=t("health.dead_letter_title", sequence=letter["sequence"]),
        breadcrumb=[
            (t("nav.section_platform"), None),
            (t("health.title"), "/platform/health"),
            (t("health.dead_letter_title", sequence=letter["sequence"]), None),
        ],
        letter=letter,
        payload=json.dumps(letter["payload"], ensure_ascii=False, indent=2, sort_keys=True),
    )


@router.post("/dead-letters/{sequence}/replay")
async def replay(request: Request, sequence: str, api: OpsApiDep) -> Response:
    """Replay to the consumer that dead-lettered it; a refusal shows the API's problem page."""
    answer = await api.post(ops_path(DEAD_LETTERS + "/{}/replay", sequence))
    return RedirectResponse(f"/platform/health?replayed={answer['replayed']['sequence']}", status_code=303)
