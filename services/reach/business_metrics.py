"""Reach's business metrics: deliveries by status and suppression reason, provider receipts by status."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.reach.models import Delivery, ProviderDelivery
from services.runtime.business_metrics import Measure, Rows


def deliveries(session: Session) -> Rows:
    query = select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
        Delivery.status, Delivery.reason, Delivery.channel, Delivery.control, func.count()
    )
    query = query.group_by(
        col(Delivery.status), col(Delivery.reason), col(Delivery.channel), col(Delivery.control)
    )
    for status, reason, channel, control, count in session.exec(query).all():
        group = "control" if control else "treatment"
        yield (
            count,
            {"status": status, "reason": reason or "none", "channel": channel or "none", "group": group},
        )


def provider_deliveries(session: Session) -> Rows:
    query = select(ProviderDelivery.channel, ProviderDelivery.status, func.count())
    query = query.group_by(col(ProviderDelivery.channel), col(ProviderDelivery.status))
    for channel, status, count in session.exec(query).all():
        yield count, {"channel": channel, "status": status}


MEASURES = [
    Measure("lattice.reach.deliveries", "Strategy contacts by status and suppression reason", deliveries),
    Measure("lattice.reach.provider.deliveries", "Provider hand-offs by receipt status", provider_deliveries),
]
