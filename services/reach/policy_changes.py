"""Four eyes on the delivery policy: caps and quiet hours commit customer contact bank-wide."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.reach.models import PolicyProposal, PolicyRecord
from services.reach.policy import parse_policy
from services.reach.strategies import Actor
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Conflict, Forbidden, NotFound


def _head_office(actor: Actor) -> None:
    if actor.branch is not None:
        raise Forbidden("head_office_only", "only head office changes the delivery policy")


def _pending(session: Session) -> list[PolicyProposal]:
    stmt = select(PolicyProposal).where(PolicyProposal.status == "pending").with_for_update()
    return list(session.exec(stmt))


def pending_proposal(*, engine: Engine) -> PolicyProposal | None:
    """The change waiting for approval, if any."""
    with read_session(engine) as session:
        stmt = select(PolicyProposal).where(PolicyProposal.status == "pending")
        return session.exec(stmt.order_by(col(PolicyProposal.created_at).desc())).first()


def propose(
    *, engine: Engine, actor: Actor, data: dict[str, Any], now: datetime | None = None
) -> PolicyProposal:
    """Record a policy change for review; it supersedes any change still waiting."""
    _head_office(actor)
    policy = parse_policy(data)
    now = now or utcnow()
    proposal = PolicyProposal(
        proposal_id=str(uuid.uuid4()),
        policy=policy.model_dump(),
        proposed_by=actor.operator_id,
        created_at=now,
    )
    with transaction(engine) as session:
        for older in _pending(session):
            older.status, older.decided_by, older.decided_at = "superseded", actor.operator_id, now
            session.add(older)
        session.add(proposal)
    return proposal


def approve(*, engine: Engine, actor: Actor, proposal_id: str, now: datetime | None = None) -> PolicyProposal:
    """Put a pending change in force; nobody approves a change they proposed."""
    _head_office(actor)
    now = now or utcnow()
    with transaction(engine) as session:
        proposal = session.get(PolicyProposal, proposal_id, with_for_update=True, populate_existing=True)
        if proposal is None:
            raise NotFound("proposal_not_found", f"no policy proposal {proposal_id}")
        if proposal.status != "pending":
            raise Conflict("proposal_not_pending", f"the proposal is {proposal.status}")
        if proposal.proposed_by == actor.operator_id:
            raise Forbidden("own_work", "the change was proposed by this operator")
        record = session.get(PolicyRecord, 1) or PolicyRecord(policy_id=1)
        record.policy = proposal.policy
        record.updated_by, record.approved_by, record.updated_at = (
            proposal.proposed_by,
            actor.operator_id,
            now,
        )
        proposal.status, proposal.decided_by, proposal.decided_at = "approved", actor.operator_id, now
        session.add(record)
        session.add(proposal)
    return proposal
