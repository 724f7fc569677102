"""Four eyes on strategies: who wrote each reviewable version, and who may approve it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from services.reach.models import Strategy, StrategyRevision
from services.runtime.errors import Forbidden, InvalidInput

MAX_REASON = 500


def writers(strategy: Strategy) -> list[str]:
    """Everyone who authored or edited the version under review (rows older than revisions: the creator)."""
    return list(strategy.edited_by) or [strategy.created_by]


def start(session: Session, *, strategy: Strategy, operator_id: str, now: datetime) -> None:
    """Open a new version written by `operator_id` (on creation, or on the first edit after approval)."""
    strategy.edited_by = [operator_id]
    session.add(
        StrategyRevision(
            strategy_id=strategy.strategy_id,
            revision=strategy.revision,
            spec=strategy.spec,
            authored_by=operator_id,
            created_at=now,
            updated_at=now,
        )
    )


def record_edit(session: Session, *, strategy: Strategy, operator_id: str, now: datetime) -> None:
    """An edit joins the unapproved version under review, or opens the next one after an approval or a
    rejection."""
    if strategy.approved_by is not None or strategy.status == "rejected":
        strategy.revision += 1
        start(session, strategy=strategy, operator_id=operator_id, now=now)
        return
    if operator_id not in writers(strategy):
        strategy.edited_by = [*writers(strategy), operator_id]
    row = session.get(StrategyRevision, (strategy.strategy_id, strategy.revision))
    if row is None:  # a strategy stored before versions were recorded
        row = StrategyRevision(
            strategy_id=strategy.strategy_id,
            revision=strategy.revision,
            authored_by=strategy.created_by,
            created_at=now,
        )
    row.spec = strategy.spec
    row.edited_by = [w for w in strategy.edited_by if w != row.authored_by]
    row.updated_at = now
    session.add(row)


def approve(session: Session, *, strategy: Strategy, operator_id: str, now: datetime) -> None:
    """Nobody approves a version they authored or edited."""
    if operator_id in writers(strategy):
        raise Forbidden("own_work", "the version under review was authored or edited by this operator")
    strategy.approved_by = operator_id
    row = session.get(StrategyRevision, (strategy.strategy_id, strategy.revision))
    if row is not None:
        row.approved_by, row.approved_at, row.updated_at = operator_id, now, now
        session.add(row)


def reject(session: Session, *, strategy: Strategy, operator_id: str, reason: str, now: datetime) -> None:
    """Nobody rejects a version they authored or edited either; the reason is required and kept."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("reason_required", f"a rejection needs a reason of 1..{MAX_REASON} characters")
    if operator_id in writers(strategy):
        raise Forbidden("own_work", "the version under review was authored or edited by this operator")
    row = session.get(StrategyRevision, (strategy.strategy_id, strategy.revision))
    if row is not None:
        row.rejected_by, row.rejected_at, row.rejection_reason = operator_id, now, reason
        row.updated_at = now
        session.add(row)


def history(session: Session, *, strategy_id: str) -> list[StrategyRevision]:
    stmt = select(StrategyRevision).where(StrategyRevision.strategy_id == strategy_id)
    return list(session.exec(stmt.order_by(col(StrategyRevision.revision))))
