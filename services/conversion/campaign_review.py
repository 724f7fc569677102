"""Campaign changes under review: nobody approves a version they wrote; every step is kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Row, Select, and_, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion.campaigns import UPDATABLE, Staff, validate
from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign, CampaignVersion
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.paging import read_page
from services.runtime.sorting import Sortable

MAX_NOTE = 500
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def _locked(session: Session, campaign_id: str, actor: Staff) -> Campaign:
    stmt = select(Campaign).where(col(Campaign.campaign_id) == campaign_id).with_for_update()
    campaign = session.exec(stmt).first()
    if campaign is None or not actor.reaches(campaign):
        raise NotFound("campaign_not_found", f"no campaign {campaign_id}")
    return campaign


def _pending(session: Session, campaign: Campaign) -> CampaignVersion | None:
    if not campaign.pending_version:
        return None
    return session.get(CampaignVersion, (campaign.campaign_id, campaign.pending_version))


def _last_version(session: Session, campaign_id: str) -> int:
    stmt = select(CampaignVersion.version).where(col(CampaignVersion.campaign_id) == campaign_id)
    return max(session.exec(stmt).all(), default=0)


def proposed(campaign: Campaign, version: CampaignVersion) -> Campaign:
    """The campaign as it is once `version` applies."""
    return Campaign(**{**campaign.model_dump(), **version.changes})  # table models do not validate here


def update_campaign(
    *, engine: Engine, changes: Campaign, mask: list[str], actor: Staff, settings: ConversionSettings
) -> Campaign:
    """A status change applies at once; a change of terms or landing waits for review.

    A change made while another is pending joins it: the merged version counts every writer.
    """
    unknown = set(mask) - set(UPDATABLE)
    if not mask or unknown:
        raise InvalidInput("invalid_update_mask", f"updatable fields: {', '.join(UPDATABLE)}")
    actor.require("operator")
    operator_id = actor.operator_id
    reviewed = {name: getattr(changes, name) for name in mask if name != "status"}
    with transaction(engine) as session:
        campaign = _locked(session, changes.campaign_id, actor)
        number = _last_version(session, campaign.campaign_id) + 1
        if "status" in mask:
            campaign.status = changes.status
            validate(campaign, settings=settings)
            session.add(
                CampaignVersion(
                    campaign_id=campaign.campaign_id,
                    version=number,
                    kind="status",
                    changes={"status": campaign.status},
                    authors=[operator_id],
                    state="applied",
                )
            )
            number += 1
        if reviewed:
            _propose(session, campaign, reviewed, operator_id=operator_id, number=number, settings=settings)
        campaign.updated_at = utcnow()
        session.add(campaign)
    return campaign


def _propose(
    session: Session,
    campaign: Campaign,
    reviewed: dict[str, Any],
    *,
    operator_id: str,
    number: int,
    settings: ConversionSettings,
) -> None:
    earlier = _pending(session, campaign)
    authors, merged = [operator_id], dict(reviewed)
    if earlier is not None:
        earlier.state = "superseded"
        session.add(earlier)
        authors = sorted({*earlier.authors, operator_id})
        merged = {**earlier.changes, **reviewed}
    version = CampaignVersion(
        campaign_id=campaign.campaign_id,
        version=number,
        kind="change" if campaign.review_state == "approved" else "create",
        changes=merged,
        authors=authors,
        state="pending",
    )
    validate(proposed(campaign, version), settings=settings)
    if campaign.review_state != "approved":
        # not live yet: the draft itself changes, and goes back to review
        for name, value in reviewed.items():
            setattr(campaign, name, value)
        campaign.review_state = "pending_review"
    campaign.pending_version = number
    session.add(version)


def review_campaign(
    *,
    engine: Engine,
    campaign_id: str,
    version: int,
    actor: Staff,
    approve: bool,
    note: str,
    settings: ConversionSettings,
) -> Campaign:
    """Approve (the version applies, the campaign goes live) or reject the pending version."""
    actor.require("reviewer")
    reviewer_id = actor.operator_id
    if len(note) > MAX_NOTE:
        raise InvalidInput("invalid_review", f"a review note has at most {MAX_NOTE} characters")
    with transaction(engine) as session:
        campaign = _locked(session, campaign_id, actor)
        pending = _pending(session, campaign)
        if pending is None:
            raise Conflict("nothing_to_review", f"campaign {campaign_id} has no version waiting for review")
        if pending.version != version:
            raise Conflict("version_changed", f"the pending version of {campaign_id} is {pending.version}")
        if reviewer_id in pending.authors:
            raise Forbidden("self_approval", "a version must be reviewed by someone who did not write it")
        now = utcnow()
        pending.state = "approved" if approve else "rejected"
        pending.reviewed_by, pending.reviewed_at, pending.note = reviewer_id, now, note
        if approve:
            for name, value in pending.changes.items():
                setattr(campaign, name, value)
            validate(campaign, settings=settings)
            campaign.review_state, campaign.approved_by, campaign.approved_at = "approved", reviewer_id, now
        elif campaign.review_state != "approved":
            campaign.review_state = "rejected"
        campaign.pending_version = 0
        campaign.updated_at = now
        session.add(pending)
        session.add(campaign)
    return campaign


def pending_version(*, engine: Engine, campaign: Campaign) -> CampaignVersion | None:
    with read_session(engine) as session:
        return _pending(session, campaign)


# the review queue: by campaign id, or by proposed_at, when the pending version was proposed
PENDING_ORDER = Sortable(
    key=col(CampaignVersion.campaign_id), fields={"proposed_at": col(CampaignVersion.proposed_at)}
)


def waiting_for_review(
    *,
    engine: Engine,
    branch: str,
    limit: int,
    after: str,
    sort: str = "",
    start: tuple[datetime, str] | None = None,
) -> tuple[list[tuple[Campaign, CampaignVersion]], int]:
    """Campaigns with a version waiting for review, each with that version (by id, or by `sort` of
    PENDING_ORDER, after the token or the `start` position), and how many wait in all; a branch reads
    only its own. Two indexed reads, whatever the queue's size."""
    with read_session(engine) as session:
        stmt = _queue_page(select(Campaign, CampaignVersion), branch, limit, after, sort, start)
        return list(session.exec(stmt)), _pending_total(session, branch)


# what the approvals inbox shows of a campaign waiting for review (the queue's view)
QUEUED = (
    col(Campaign.campaign_id),
    col(Campaign.name),
    col(Campaign.branch),
    col(Campaign.pending_version),
    col(CampaignVersion.version),
    col(CampaignVersion.authors),
    col(CampaignVersion.proposed_at),
    col(CampaignVersion.changes),
)


def queued_for_review(
    *,
    engine: Engine,
    branch: str,
    limit: int,
    after: str,
    sort: str = "",
    start: tuple[datetime, str] | None = None,
) -> tuple[list[Row[Any]], int]:
    """`waiting_for_review`'s page with only the QUEUED columns, as rows (no table models built: the
    inbox reads 50 of 10^4 on every page), and how many wait in all."""
    with read_session(engine) as session:
        stmt = _queue_page(sqlalchemy.select(*QUEUED), branch, limit, after, sort, start)
        return list(session.execute(stmt)), _pending_total(session, branch)


def _queue_page(
    stmt: S, branch: str, limit: int, after: str, sort: str, start: tuple[datetime, str] | None
) -> S:
    """`stmt` over the queue (a branch's only), in PENDING_ORDER after the token or `start`, one page."""
    return PENDING_ORDER.apply(_in_queue(stmt, branch), sort=sort, token=after, start=start).limit(limit)


def _in_queue(stmt: S, branch: str) -> S:
    """`stmt` over the campaigns with a pending version, joined with it; a branch's only."""
    waiting = stmt.join(
        CampaignVersion,
        and_(
            col(CampaignVersion.campaign_id) == col(Campaign.campaign_id),
            col(CampaignVersion.version) == col(Campaign.pending_version),
        ),
    ).where(col(Campaign.pending_version) > 0)
    return waiting.where(col(Campaign.branch) == branch) if branch else waiting


def _pending_total(session: Session, branch: str) -> int:
    counted = select(func.count()).select_from(Campaign).where(col(Campaign.pending_version) > 0)
    if branch:
        counted = counted.where(col(Campaign.branch) == branch)
    return int(session.exec(counted).one())


def list_versions(
    *, engine: Engine, campaign_id: str, branch: str, size: int, token: str
) -> tuple[Campaign, list[CampaignVersion], str]:
    """A page of a campaign's versions, oldest first: who wrote what, who reviewed it and when."""
    with read_session(engine) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or (branch and campaign.branch != branch):
            raise NotFound("campaign_not_found", f"no campaign {campaign_id}")
        stmt = select(CampaignVersion).where(col(CampaignVersion.campaign_id) == campaign_id)
        versions, next_token = read_page(
            session, stmt, [(col(CampaignVersion.version), False)], token=token, size=size
        )
        return campaign, versions, next_token
