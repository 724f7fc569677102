"""Providers' delivery receipts: a message a provider accepted becomes delivered or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from services.reach.models import Delivery, ProviderDelivery
from services.runtime.db import transaction
from services.runtime.errors import InvalidInput

CHANNELS = ("push", "sms", "partner")
OUTCOMES = ("delivered", "failed")
MAX_RECEIPTS = 500


@dataclass(frozen=True)
class Receipt:
    delivery_id: str
    status: str
    reason: str
    occurred_at: datetime


@dataclass
class Outcome:
    applied: int = 0
    unchanged: int = 0
    unknown: int = 0


def record_receipts(*, engine: Engine, channel: str, receipts: list[Receipt], now: datetime) -> Outcome:
    """Apply each receipt once; a message of another channel is unknown to this channel's provider."""
    if channel not in CHANNELS:
        raise InvalidInput("invalid_channel", "receipts come from the push, sms or partner provider")
    if not 0 < len(receipts) <= MAX_RECEIPTS:
        raise InvalidInput("invalid_receipts", f"between 1 and {MAX_RECEIPTS} receipts")
    for receipt in receipts:
        if receipt.status not in OUTCOMES:
            raise InvalidInput("invalid_receipt_status", "a receipt says delivered or failed")
    outcome = Outcome()
    with transaction(engine) as session:
        for receipt in receipts:
            handed = session.get(ProviderDelivery, receipt.delivery_id, with_for_update=True)
            if handed is None or handed.channel != channel:
                outcome.unknown += 1
                continue
            if handed.status != "accepted":
                outcome.unchanged += 1
                continue
            # a provider's clock may run ahead of ours: a receipt is never from the future
            at = min(receipt.occurred_at, now)
            handed.status, handed.receipt_at = receipt.status, at
            handed.receipt_reason = receipt.reason if receipt.status == "failed" else ""
            session.add(handed)
            delivery = session.get(Delivery, receipt.delivery_id, with_for_update=True)
            if delivery is not None and delivery.status == "delivered":
                if receipt.status == "failed":
                    delivery.status = "failed"
                    delivery.reason = f"provider_{receipt.reason or 'failed'}"[:60]
                else:
                    delivery.delivered_at = at
                session.add(delivery)
            outcome.applied += 1
    return outcome
