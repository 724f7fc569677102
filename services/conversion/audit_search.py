"""Conversion's part of the operators' audit search: campaign versions and reviews, goals, postback re-sends.

Derived from those history tables (small: one row per reviewed change), filtered in Python.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion.models import Campaign, CampaignVersion, Goal, GoalChange, PostbackResend
from services.runtime.audit_trail import AuditQuery, AuditRecord, page_of, stable_id
from services.runtime.db import read_session

APPROVED = ("approved", "applied")


def _campaigns(session: Session, query: AuditQuery) -> list[AuditRecord]:
    stmt = select(CampaignVersion, Campaign.branch).join(
        Campaign, col(Campaign.campaign_id) == col(CampaignVersion.campaign_id)
    )
    if query.branch:
        stmt = stmt.where(col(Campaign.branch) == query.branch)
    out = []
    for version, branch in session.exec(stmt):
        common = {"entity": "campaign", "entity_id": version.campaign_id, "branch": branch or ""}
        detail = f"version {version.version} ({version.kind}); state {version.state}"
        author = version.authors[0] if version.authors else ""
        out.append(
            AuditRecord(
                record_id=stable_id("proposed", version.campaign_id, version.version),
                at=version.proposed_at,
                operator_id=author,
                operator_branch="",
                action=f"proposed_{version.kind}",
                detail=f"{detail}; authors {', '.join(version.authors)}",
                **common,
            )
        )
        if version.reviewed_by and version.reviewed_at:
            action = "approved" if version.state in APPROVED else version.state
            out.append(
                AuditRecord(
                    record_id=stable_id("reviewed", version.campaign_id, version.version),
                    at=version.reviewed_at,
                    operator_id=version.reviewed_by,
                    operator_branch="",
                    action=action,
                    reason=version.note,
                    detail=detail,
                    **common,
                )
            )
    return out


def _goals(session: Session, query: AuditQuery) -> list[AuditRecord]:
    stmt = select(GoalChange, Goal.branch).join(Goal, col(Goal.goal_id) == col(GoalChange.goal_id))
    if query.branch:
        stmt = stmt.where(col(Goal.branch) == query.branch)
    return [
        AuditRecord(
            record_id=stable_id("goal", change.goal_id, change.version),
            at=change.at,
            operator_id=change.operator_id,
            operator_branch="",
            action=f"goal_{change.action}",
            entity="goal",
            entity_id=change.goal_id,
            branch=branch or "",
            detail=f"version {change.version}",
        )
        for change, branch in session.exec(stmt)
    ]


def _resends(session: Session, query: AuditQuery) -> list[AuditRecord]:
    stmt = select(PostbackResend)
    if query.branch:
        stmt = stmt.where(col(PostbackResend.branch) == query.branch)
    return [
        AuditRecord(
            record_id=stable_id("resend", resend.resend_id),
            at=resend.at,
            operator_id=resend.operator_id,
            operator_branch="",
            action="postback_resent",
            entity="postback_delivery",
            entity_id=resend.delivery_id,
            branch=resend.branch,
            reason=resend.reason,
            detail=f"campaign {resend.campaign_id}; after {resend.previous_attempts} attempts",
        )
        for resend in session.exec(stmt)
    ]


def search_audit(*, engine: Engine, query: AuditQuery) -> list[AuditRecord]:
    """Conversion's audit records matching the query, newest or oldest first."""
    with read_session(engine) as session:
        records = _campaigns(session, query) + _goals(session, query) + _resends(session, query)
    return page_of(records, query)
