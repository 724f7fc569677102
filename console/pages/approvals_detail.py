"""One item of the approvals inbox read from its own API: what changed, its findings, who wrote it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from console.api import ApiProblem, OpsApi, ops_path
from console.formatting import local_time, money
from console.pages.approvals_diff import FieldChange, Segment, changes, content_fields, flatten, highlight

LOCALES = ("zh-Hans", "zh-Hant", "en")  # the title shown: the bank's own language first
KINDS = ("content_item", "benefit", "benefit_change", "strategy", "campaign")
BENEFIT_MONEY = ("face_value", "total_budget", "daily_budget", "min_order_amount", "budget_remaining")
# Review bookkeeping, not the content under review.
BENEFIT_SKIP = ("status", "drafted_by", "reviewed_by", "review_note", "budget_remaining", "created_at")
CAMPAIGN_SKIP = ("pending", "review_state", "approved_by", "status", "created_at", "created_by")


@dataclass
class Finding:
    rule_id: str
    description: str
    severity: str
    overridable: bool
    field: str
    offset: int
    segments: list[Segment]


@dataclass
class Review:
    """Everything the reviewer reads before deciding."""

    kind: str
    object_id: str
    title: str
    status: str
    authors: list[str]
    parent_id: str | None = None
    branch: str | None = None
    version: int | None = None
    compared_to: str = ""
    changes: list[FieldChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    waiting: bool = True
    can_reject: bool = True


def _benefit_view(benefit: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in benefit.items() if k not in BENEFIT_SKIP}
    for key in BENEFIT_MONEY:
        if shown.get(key):
            shown[key] = money(shown[key])
    for key in ("valid_from", "valid_until"):
        shown[key] = local_time(shown.get(key)) if shown.get(key) else None
    return shown


async def _content_item(api: OpsApi, object_id: str, _: str | None) -> Review:
    item = await api.get(ops_path("/v1/ops/content/items/{}", object_id))
    versions = sorted(item["versions"], key=lambda v: v["version"])
    if not versions:
        raise ApiProblem(404, "item_not_found", "the item has no version")
    review = next((v for v in versions if v["status"] == "in_review"), versions[-1])
    published = item.get("published_version")
    base = next((v for v in versions if v["version"] == published and v is not review), None)
    check = await api.get(
        ops_path("/v1/ops/content/items/{}/compliance", object_id), {"version": review["version"]}
    )
    texts = flatten(content_fields(review))
    findings = [
        Finding(
            rule_id=f["rule_id"],
            description=f["description"],
            severity=f["severity"],
            overridable=f["overridable"],
            field=f["field"],
            offset=f["offset"],
            segments=highlight(texts.get(f["field"], ""), f["offset"], len(f["matched_text"])),
        )
        for f in check["findings"]
    ]
    titled = [t for v in review["variants"] for t in v["texts"] if t["title"]]
    titled.sort(key=lambda t: LOCALES.index(t["locale"]) if t["locale"] in LOCALES else 9)
    title = titled[0]["title"] if titled else object_id
    return Review(
        kind="content_item",
        object_id=object_id,
        title=title,
        status=review["status"],
        authors=[review["author_id"], *review["editor_ids"]],
        branch=item.get("owner_branch"),
        version=review["version"],
        compared_to=f"v{base['version']}" if base else "",
        changes=changes(content_fields(base), content_fields(review)),
        findings=findings,
        waiting=review["status"] == "in_review",
    )


async def _benefit(api: OpsApi, object_id: str, _: str | None) -> Review:
    benefit = await api.get(ops_path("/v1/ops/benefits/{}", object_id))
    return Review(
        kind="benefit",
        object_id=object_id,
        title=benefit["name"],
        status=benefit["status"],
        authors=[benefit.get("drafted_by") or ""],
        branch=benefit.get("branch"),
        changes=changes(None, _benefit_view(benefit)),
        waiting=benefit["status"] == "draft",
    )


async def _benefit_change(api: OpsApi, object_id: str, parent: str | None) -> Review:
    if not parent:
        raise ApiProblem(404, "change_not_found", "a change is found through its benefit")
    benefit, listed = await asyncio.gather(
        api.get(ops_path("/v1/ops/benefits/{}", parent)),
        api.get_all(ops_path("/v1/ops/benefits/{}/changes", parent)),
    )
    change = next((c for c in listed if c["change_id"] == object_id), None)
    if change is None:
        raise ApiProblem(404, "change_not_found", "no such change of this benefit")
    before = {k: benefit.get(k) for k in ("total_budget", "daily_budget", "valid_until")}
    after = dict(before)
    if change["kind"] == "top_up":
        after["total_budget"] = (benefit.get("total_budget") or 0) + change["total_budget_increase"]
        after["daily_budget"] = change["daily_budget"] or benefit.get("daily_budget")
    else:
        after["valid_until"] = change["valid_until"]
    return Review(
        kind="benefit_change",
        object_id=object_id,
        parent_id=parent,
        title=f"{change['kind']}: {benefit['name']}",
        status=change["status"],
        authors=[change["requested_by"], benefit.get("drafted_by") or ""],
        branch=benefit.get("branch"),
        compared_to=change["reason"],
        changes=changes(_benefit_view(before), _benefit_view(after)),
        waiting=change["status"] == "pending",
    )


async def _strategy(api: OpsApi, object_id: str, _: str | None) -> Review:
    strategy, revisions = await asyncio.gather(
        api.get(ops_path("/v1/ops/reach/strategies/{}", object_id)),
        api.get(ops_path("/v1/ops/reach/strategies/{}/revisions", object_id)),
    )
    current = strategy["revision"]
    approved = [r for r in revisions["items"] if r.get("approved_by") and r["revision"] < current]
    base = max(approved, key=lambda r: r["revision"]) if approved else None
    return Review(
        kind="strategy",
        object_id=object_id,
        title=strategy["spec"].get("name") or object_id,
        status=strategy["status"],
        authors=[strategy.get("created_by") or "", *strategy.get("edited_by", [])],
        branch=strategy.get("branch") or None,
        version=current,
        compared_to=f"r{base['revision']}" if base else "",
        changes=changes(base["spec"] if base else None, strategy["spec"]),
        waiting=strategy["status"] == "draft",
    )


def _campaign_view(campaign: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    shown = {k: v for k, v in campaign.items() if k not in CAMPAIGN_SKIP and (not fields or k in fields)}
    if "cpa_amount_minor" in shown:
        shown["cpa_amount_minor"] = money(shown["cpa_amount_minor"], campaign.get("currency") or "CNY")
    return shown


async def _campaign(api: OpsApi, object_id: str, _: str | None) -> Review:
    campaign = await api.get(ops_path("/v1/ops/conversion/campaigns/{}", object_id))
    pending = campaign.get("pending")
    if pending:
        fields = None if pending["kind"] == "create" else pending["fields"]
        before = None if pending["kind"] == "create" else _campaign_view(campaign, fields)
        found = changes(before, _campaign_view(pending["proposed"], fields))
    else:
        found = []
    return Review(
        kind="campaign",
        object_id=object_id,
        title=(pending or {}).get("proposed", {}).get("name") or campaign["name"],
        status=campaign["review_state"],
        authors=list((pending or {}).get("authors", [])),
        branch=campaign.get("branch"),
        version=pending["version"] if pending else None,
        changes=found,
        waiting=bool(pending),
    )


LOADERS = {
    "content_item": _content_item,
    "benefit": _benefit,
    "benefit_change": _benefit_change,
    "strategy": _strategy,
    "campaign": _campaign,
}


async def load(api: OpsApi, *, kind: str, object_id: str, parent: str | None) -> Review:
    """The item as its own API shows it to this operator (another branch's object is the API's 404)."""
    return await LOADERS[kind](api, object_id, parent)


def overridable(review: Review) -> list[str]:
    """Blocking findings a reviewer may approve anyway, recording the evidence as the reason."""
    return sorted({f.rule_id for f in review.findings if f.severity == "block" and f.overridable})


async def decide(api: OpsApi, *, review: Review, approve: bool, reason: str, override: bool = False) -> None:
    """Approve or reject through the kind's own review route; the API enforces role, scope and four eyes."""
    oid, parent = review.object_id, review.parent_id
    note = {"approve": approve, "note": reason}
    if review.kind == "content_item":
        path = "/v1/ops/content/items/{}/approve" if approve else "/v1/ops/content/items/{}/reject"
        rules = overridable(review) if override else []
        body = (
            {"overrides": [{"rule_id": r, "reason": reason} for r in rules]}
            if approve
            else {"reason": reason}
        )
        await api.post(ops_path(path, oid), body)
    elif review.kind == "benefit":
        await api.post(ops_path("/v1/ops/benefits/{}/review", oid), note)
    elif review.kind == "benefit_change":
        await api.post(ops_path("/v1/ops/benefits/{}/changes/{}/review", parent, oid), note)
    elif review.kind == "strategy":
        if approve:
            await api.post(ops_path("/v1/ops/reach/strategies/{}/approve", oid))
        else:  # back to its writers with the reason (their next edit makes it a draft again)
            await api.post(ops_path("/v1/ops/reach/strategies/{}/reject", oid), {"reason": reason})
    else:
        versioned = {**note, "version": review.version}
        await api.post(ops_path("/v1/ops/conversion/campaigns/{}/review", oid), versioned)
