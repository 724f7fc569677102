"""One page of one kind's review queue, read from the service that owns it with the operator's scope:
by id with the service's page token, or by the time it went into review from an explicit start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from lattice.benefits.v1 import benefits_pb2 as bpb
from lattice.content.v1 import content_pb2 as cpb
from lattice.conversion.v1 import conversion_pb2 as vpb
from lattice.reach.v1 import reach_pb2 as rpb
from pydantic import BaseModel

from gateway.auth import OperatorPrincipal
from gateway.clients import Clients
from gateway.routes.benefits.calls import operator_principal
from services.runtime.clock import from_timestamp, to_timestamp
from services.runtime.proto_mapping import to_proto

KINDS = ("content_item", "benefit", "benefit_change", "strategy", "campaign")
# Each service's name for the time an item went into review: its review queue sorts by it (then id).
SUBMITTED = {
    "content_item": "submitted_at",  # the version in review's created_at
    "benefit": "created_at",
    "benefit_change": "requested_at",
    "strategy": "updated_at",
    "campaign": "proposed_at",  # the pending version's
}
# The title shown is the bank's own language first.
_LOCALES = {"zh-Hans": 0, "zh-Hant": 1, "en": 2}


class ReviewItem(BaseModel):
    """A change waiting for a reviewer: what it is, who wrote it, and whether this operator may decide it."""

    kind: str
    object_id: str
    parent_id: str | None = None
    title: str
    branch: str | None = None
    version: int | None = None
    authors: list[str]
    submitted_at: datetime | None = None
    own_work: bool
    can_approve: bool
    can_reject: bool


def _at(ts: Timestamp) -> datetime | None:
    return from_timestamp(ts) if ts.seconds or ts.nanos else None


def _item(operator: OperatorPrincipal, *, rejectable: bool = True, **fields: object) -> ReviewItem:
    authors = [a for a in fields.pop("authors", []) if a]  # type: ignore[attr-defined]  # fields come from a JSON object; authors is a list there
    own = operator.operator_id in authors
    may = operator.has_role("reviewer") and not own
    return ReviewItem(
        authors=authors,
        own_work=own,
        can_approve=may,
        can_reject=may and rejectable,
        **fields,
    )


Page = tuple[list[ReviewItem], str]


@dataclass(frozen=True)
class Start:
    """A read of one queue in the order of submission (newest first if `descending`), from its start or
    after an explicit (time, id) position (an empty id stands before every item at that time)."""

    descending: bool
    after: tuple[datetime, str] | None = None

    def fields(self, kind: str) -> dict[str, Any]:
        """The list request's fields for this read of `kind`'s queue."""
        sort = ("-" if self.descending else "") + SUBMITTED[kind]
        if self.after is None:
            return {"sort": sort}
        at, object_id = self.after
        return {"sort": sort, "after_time": to_timestamp(at), "after_id": object_id}


def _sorted(start: Start | None, kind: str) -> dict[str, Any]:
    return start.fields(kind) if start else {}


async def content_items(
    clients: Clients, op: OperatorPrincipal, size: int, token: str, start: Start | None = None
) -> Page:
    actor = to_proto(cpb.Actor, op)
    # content's review queue: each item with only its version in review (texts and authors), one read
    resp = await clients.content.ListReviewQueue(
        cpb.ListReviewQueueRequest(
            actor=actor, page_size=size, page_token=token, **_sorted(start, "content_item")
        )
    )
    found = []
    for item in resp.items:
        version = item.versions[0]
        texts = sorted(
            (t for v in version.variants for t in v.texts if t.title), key=lambda t: _LOCALES.get(t.locale, 9)
        )
        title = texts[0].title if texts else item.item_id
        found.append(
            _item(
                op,
                kind="content_item",
                object_id=item.item_id,
                title=title,
                branch=item.owner_branch or None,
                version=version.version,
                authors=[version.author_id, *version.editor_ids],
                submitted_at=_at(version.created_at),
            )
        )
    return found, resp.next_page_token


async def benefits(
    clients: Clients, op: OperatorPrincipal, size: int, token: str, start: Start | None = None
) -> Page:
    resp = await clients.benefits.ListBenefits(
        bpb.ListBenefitsRequest(
            status="draft",
            principal=operator_principal(op),
            page_size=size,
            page_token=token,
            **_sorted(start, "benefit"),
        )
    )
    found = [
        _item(
            op,
            kind="benefit",
            object_id=b.benefit_id,
            title=b.name,
            branch=b.branch or None,
            authors=[b.drafted_by],
            submitted_at=_at(b.created_at),
        )
        for b in resp.benefits
    ]
    return found, resp.next_page_token


async def benefit_changes(
    clients: Clients, op: OperatorPrincipal, size: int, token: str, start: Start | None = None
) -> Page:
    # each change with its benefit (name, branch, drafter) in the same answer: no read per benefit
    resp = await clients.benefits.ListBenefitChanges(
        bpb.ListBenefitChangesRequest(
            status="pending",
            principal=operator_principal(op),
            page_size=size,
            page_token=token,
            with_benefits=True,
            **_sorted(start, "benefit_change"),
        )
    )
    by_id = {b.benefit_id: b for b in resp.benefits}
    found = [
        _item(
            op,
            kind="benefit_change",
            object_id=c.change_id,
            parent_id=c.benefit_id,
            title=f"{c.kind}: {by_id[c.benefit_id].name}",
            branch=by_id[c.benefit_id].branch or None,
            # Nobody approves a change to a benefit they drafted, nor their own request.
            authors=[c.requested_by, by_id[c.benefit_id].drafted_by],
            submitted_at=_at(c.requested_at),
        )
        for c in resp.changes
    ]
    return found, resp.next_page_token


async def strategies(
    clients: Clients, op: OperatorPrincipal, size: int, token: str, start: Start | None = None
) -> Page:
    actor = to_proto(rpb.Actor, op)
    resp = await clients.reach.ListStrategies(
        rpb.ListStrategiesRequest(
            actor=actor, status="draft", page_size=size, page_token=token, **_sorted(start, "strategy")
        )
    )
    found = [
        _item(
            op,
            kind="strategy",
            object_id=s.strategy_id,
            title=s.spec.name or s.strategy_id,
            branch=s.branch or None,
            version=s.revision,
            authors=[s.created_by, *s.edited_by],
            submitted_at=_at(s.updated_at) or _at(s.created_at),
        )
        for s in resp.strategies
    ]
    return found, resp.next_page_token


async def campaigns(
    clients: Clients, op: OperatorPrincipal, size: int, token: str, start: Start | None = None
) -> Page:
    actor = to_proto(vpb.Actor, op, kind="operator")
    # conversion's review queue: only campaigns with a pending version, each with what the inbox shows
    resp = await clients.conversion.ListCampaigns(
        vpb.ListCampaignsRequest(
            actor=actor,
            page_size=size,
            page_token=token,
            pending_only=True,
            view=vpb.CAMPAIGN_VIEW_REVIEW_QUEUE,
            **_sorted(start, "campaign"),
        )
    )
    found = [
        _item(
            op,
            kind="campaign",
            object_id=c.campaign_id,
            title=c.pending.proposed.name or c.name,
            branch=c.branch or None,
            version=c.pending_version,
            authors=list(c.pending.authors),
            submitted_at=_at(c.pending.proposed_at),
        )
        for c in resp.campaigns
    ]
    return found, resp.next_page_token


# (clients, operator, page size, the service's page token, a sorted read's start)
READERS: dict[str, Callable[[Clients, OperatorPrincipal, int, str, Start | None], Awaitable[Page]]] = {
    "content_item": content_items,
    "benefit": benefits,
    "benefit_change": benefit_changes,
    "strategy": strategies,
    "campaign": campaigns,
}
