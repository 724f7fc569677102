"""Conversion's business metrics: partner postbacks by status, and the failing ones."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.conversion.models import PostbackDelivery
from services.runtime.business_metrics import Measure, Rows


def postbacks(session: Session) -> Rows:
    query = select(PostbackDelivery.partner_id, PostbackDelivery.status, func.count())
    query = query.group_by(col(PostbackDelivery.partner_id), col(PostbackDelivery.status))
    for partner_id, status, count in session.exec(query).all():
        yield count, {"partner_id": partner_id, "status": status}


def postback_failures(session: Session) -> Rows:
    """Dead-lettered postbacks, and pending ones whose last attempt failed."""
    failed = (col(PostbackDelivery.status) == "dead_lettered") | (
        (col(PostbackDelivery.status) == "pending") & (col(PostbackDelivery.attempts) > 0)
    )
    query = select(PostbackDelivery.partner_id, PostbackDelivery.status, func.count()).where(failed)
    query = query.group_by(col(PostbackDelivery.partner_id), col(PostbackDelivery.status))
    for partner_id, status, count in session.exec(query).all():
        yield count, {"partner_id": partner_id, "status": status}


MEASURES = [
    Measure("lattice.conversion.postbacks", "Partner postbacks by status", postbacks),
    Measure("lattice.conversion.postback.failures", "Postbacks dead-lettered or failing", postback_failures),
]
