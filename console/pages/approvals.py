"""The approvals inbox: what waits for review across content, benefits, strategies and campaigns.

Every list, count and detail comes from the operator API with the signed-in operator's token, so the
inbox shows only what that operator's branch may see; decisions go to each kind's own review route,
which enforces the role and four eyes. The page only marks the operator's own work as not approvable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.api import ApiProblem, OpsApi, OpsApiDep
from console.errors import MESSAGES, MESSAGES_BY_CODE
from console.formatting import csv_response, local_time
from console.nav import COUNT_TTL_S, NavEntry
from console.pages import approvals_detail as detail
from console.sorting import Sort
from console.templating import render, translator

router = APIRouter(prefix="/approvals")
Kind = Literal["content_item", "benefit", "benefit_change", "strategy", "campaign"]
ObjectId = Annotated[str, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
# kind by kind "<kind>:<the service's token>"; under a sort "~" and the merged order's position
PageToken = Annotated[str, Query(max_length=480, pattern=r"^([a-z_]+:[A-Za-z0-9_.=-]*|~[A-Za-z0-9_-]+)?$")]
DECIDERS = ("reviewer", "admin")
PAGE_SIZE = 50

REVIEW_COUNTS = "reviews/counts"


async def _counts_of(api: OpsApi) -> tuple[dict[str, int], set[str]]:
    """The review queue's counts, shared by the inbox's tabs and the navigation's badges: one call per
    session every COUNT_TTL_S (a decision or any other change clears them, see console/app.py)."""
    session = api.session
    now = time.monotonic()
    cached = session.counts.get(REVIEW_COUNTS)
    if cached is None or now - cached[0] > COUNT_TTL_S:
        task = _pending.get(session.id)
        if task is None:  # the page and its badges ask at once: one call
            task = asyncio.ensure_future(api.get("/v1/ops/reviews/counts"))
            _pending[session.id] = task
            key = session.id
            task.add_done_callback(lambda _t: _pending.pop(key, None))
        cached = (now, await asyncio.shield(task))
        session.counts[REVIEW_COUNTS] = cached
    answer = cached[1]
    counts = {"": answer["total"], **{c["kind"]: c["count"] for c in answer["kinds"]}}
    return counts, {c["kind"] for c in answer["kinds"] if c["capped"]}


_pending: dict[str, asyncio.Future[Any]] = {}


def _badge(kind: str):
    async def count(api: OpsApi) -> int | None:
        return (await _counts_of(api))[0].get(kind)

    return count


NAV = [
    NavEntry(label="approvals.nav", path="/approvals", order=10, section="review", count=_badge("")),
    *(
        NavEntry(
            label=f"approvals.kind.{k}",
            path=f"/approvals?kind={k}",
            order=11 + i,
            section="review",
            count=_badge(k),
        )
        for i, k in enumerate(detail.KINDS)
    ),
]


def _mark(item: dict[str, Any], request: Request) -> dict[str, Any]:
    session = request.state.session
    own = session.operator_id in item["authors"]
    return {**item, "own_work": own, "can_decide": session.role in DECIDERS and not own}


@router.get("")
async def inbox(
    request: Request,
    api: OpsApiDep,
    kind: Kind | None = None,
    page_token: PageToken = "",
    sort: Sort = "",
) -> Response:
    """The inbox page: tabs per kind with their counts, the oldest kind's items first, or all kinds
    merged by the sorted column (`submitted_at`, `kind`; the API's sort)."""
    t = translator(request)
    params = {"kind": kind, "page_token": page_token, "page_size": PAGE_SIZE, "sort": sort}
    page, (counts, capped) = await asyncio.gather(api.get("/v1/ops/reviews", params), _counts_of(api))
    return await render(
        request,
        "approvals/inbox.html",
        title=t("approvals.title"),
        breadcrumb=[(t("approvals.title"), None)],
        items=[_mark(i, request) for i in page["items"]],
        next_page_token=page.get("next_page_token"),
        page_params={**({"kind": kind} if kind else {}), **({"sort": sort} if sort else {})},
        sort=sort,
        kind=kind,
        kinds=detail.KINDS,
        counts=counts,
        capped=capped,
        decided=request.query_params.get("decided", ""),
    )


@router.get("/export.csv")
async def export(request: Request, api: OpsApiDep, kind: Kind | None = None, sort: Sort = "") -> Response:
    """Every item waiting for review in the operator's scope (all pages) as CSV, in the inbox's order
    (kind by kind, or the page's `sort`)."""
    rows: list[list[Any]] = []
    token = ""
    for _ in range(200):
        params = {"kind": kind, "page_token": token, "page_size": 100, "sort": sort}
        page = await api.get("/v1/ops/reviews", params)
        for i in page["items"]:
            mine = _mark(i, request)
            rows.append(
                [
                    i["kind"],
                    i["object_id"],
                    i["parent_id"] or "",
                    i["title"],
                    i["branch"] or "",
                    i["version"] or "",
                    " ".join(i["authors"]),
                    local_time(i["submitted_at"]),
                    "own_work" if mine["own_work"] else ("approvable" if mine["can_decide"] else "view_only"),
                ]
            )
        token = page.get("next_page_token") or ""
        if not token:
            break
    header = [
        "kind",
        "object_id",
        "parent_id",
        "title",
        "branch",
        "version",
        "authors",
        "submitted_at",
        "you",
    ]
    return csv_response(f"approvals-{kind or 'all'}.csv", header, rows)


def _message_key(problem: ApiProblem) -> str:
    known = {"own_work": "approvals.refused_own_work", "self_approval": "approvals.refused_own_work"}
    if problem.code in known:
        return known[problem.code]
    return MESSAGES_BY_CODE.get(problem.code) or MESSAGES.get(problem.status, "errors.invalid")


async def _page(
    request: Request, review: detail.Review, *, problem: ApiProblem | None = None, reason: str = ""
) -> Response:
    t = translator(request)
    session = request.state.session
    own = session.operator_id in review.authors
    return await render(
        request,
        "approvals/detail.html",
        title=review.title,
        breadcrumb=[
            (t("approvals.title"), "/approvals"),
            (t(f"approvals.kind.{review.kind}"), f"/approvals?kind={review.kind}"),
            (review.title, None),
        ],
        status_code=problem.status if problem else 200,
        review=review,
        own_work=own,
        can_decide=review.waiting and session.role in DECIDERS and not own,
        problem=problem,
        message_key=_message_key(problem) if problem else "",
        errors=problem.field_errors if problem else {},
        reason=reason,
        overridable=detail.overridable(review),
    )


@router.get("/{kind}/{object_id}")
async def show(
    request: Request, kind: Kind, object_id: str, api: OpsApiDep, parent: ObjectId | None = None
) -> Response:
    """One item: what changed against the version in service, its compliance findings, who wrote it."""
    review = await detail.load(api, kind=kind, object_id=_checked(object_id), parent=parent)
    return await _page(request, review)


def _checked(object_id: str) -> str:
    if not object_id or len(object_id) > 64 or not all(c.isalnum() or c in "-_" for c in object_id):
        raise ApiProblem(404, "not_found", "no such object")
    return object_id


@router.post("/{kind}/{object_id}/decision")
async def decide(
    request: Request,
    kind: Kind,
    object_id: str,
    api: OpsApiDep,
    decision: Annotated[Literal["approve", "reject"], Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
    parent: Annotated[str | None, Form(max_length=64)] = None,
    version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    override: Annotated[bool, Form()] = False,
) -> Response:
    """Approve or reject with a reason; a refusal (own work, compliance, stale version) shows on the form."""
    review = await detail.load(api, kind=kind, object_id=_checked(object_id), parent=parent or None)
    reason = reason.strip()
    if version is not None:
        review.version = version  # decide on the version the reviewer read; a newer one is the API's 409
    try:
        if (decision == "reject" or override) and not reason:
            raise ApiProblem(
                422,
                "reason_required",
                "",
                errors=[{"loc": ["body", "reason"], "msg": translator(request)("approvals.reason_required")}],
            )
        await detail.decide(
            api, review=review, approve=decision == "approve", reason=reason, override=override
        )
    except ApiProblem as problem:
        return await _page(request, review, problem=problem, reason=reason)
    request.state.session.counts.clear()  # the badges change with this decision
    return RedirectResponse(f"/approvals?decided={decision}", status_code=303)
