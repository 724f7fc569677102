"""Reach's part of the operators' audit search: strategy revisions and delivery policy changes.

Derived from those history tables (one row per reviewable version), filtered in Python. The delivery
policy is head office's: a branch operator sees only its branch's strategies.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.reach.models import PolicyProposal, Strategy, StrategyRevision
from services.runtime.audit_trail import AuditQuery, AuditRecord, page_of, stable_id
from services.runtime.db import read_session


def _revisions(session: Session, query: AuditQuery) -> list[AuditRecord]:
    stmt = select(StrategyRevision, Strategy.branch, Strategy.name).join(
        Strategy, col(Strategy.strategy_id) == col(StrategyRevision.strategy_id)
    )
    if query.branch:
        stmt = stmt.where(col(Strategy.branch) == query.branch)
    out = []
    for rev, branch, name in session.exec(stmt):
        common = {
            "entity": "strategy",
            "entity_id": rev.strategy_id,
            "branch": branch or "",
            "operator_branch": "",
        }
        detail = f"{name}; revision {rev.revision}"
        out.append(
            AuditRecord(
                record_id=stable_id("drafted", rev.strategy_id, rev.revision),
                at=rev.created_at,
                operator_id=rev.authored_by,
                action="revision_drafted",
                detail=detail,
                **common,
            )
        )
        if rev.edited_by and rev.updated_at != rev.created_at:
            out.append(
                AuditRecord(
                    record_id=stable_id("edited", rev.strategy_id, rev.revision),
                    at=rev.updated_at,
                    operator_id=rev.edited_by[-1],
                    action="revision_edited",
                    detail=f"{detail}; editors {', '.join(rev.edited_by)}",
                    **common,
                )
            )
        decisions = (
            ("approved", rev.approved_by, rev.approved_at, ""),
            ("rejected", rev.rejected_by, rev.rejected_at, rev.rejection_reason),
        )
        for decision, by, at, reason in decisions:
            if by and at:
                out.append(
                    AuditRecord(
                        record_id=stable_id(decision, rev.strategy_id, rev.revision),
                        at=at,
                        operator_id=by,
                        action=f"revision_{decision}",
                        reason=reason,
                        detail=detail,
                        **common,
                    )
                )
    return out


def _policy(session: Session, query: AuditQuery) -> list[AuditRecord]:
    if query.branch:
        return []
    out = []
    for proposal in session.exec(select(PolicyProposal)):
        common = {
            "entity": "delivery_policy",
            "entity_id": proposal.proposal_id,
            "branch": "",
            "operator_branch": "",
        }
        out.append(
            AuditRecord(
                record_id=stable_id("proposed", proposal.proposal_id),
                at=proposal.created_at,
                operator_id=proposal.proposed_by,
                action="policy_proposed",
                **common,
            )
        )
        if proposal.decided_by and proposal.decided_at:
            out.append(
                AuditRecord(
                    record_id=stable_id("decided", proposal.proposal_id),
                    at=proposal.decided_at,
                    operator_id=proposal.decided_by,
                    action=f"policy_{proposal.status}",
                    **common,
                )
            )
    return out


def search_audit(*, engine: Engine, query: AuditQuery) -> list[AuditRecord]:
    """Reach's audit records matching the query, newest or oldest first."""
    with read_session(engine) as session:
        records = _revisions(session, query) + _policy(session, query)
    return page_of(records, query)
