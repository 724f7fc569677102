"""Clicks as conversion records them: touchpoints, the click-flood guard and the click counters."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from lattice.conversion.v1 import events_pb2
from sqlalchemy import bindparam
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from services.conversion.aggregates import bump
from services.conversion.attribution import VIEW
from services.conversion.config import ConversionSettings
from services.conversion.models import PartnerFlag, Touchpoint
from services.runtime.clock import from_timestamp, utcnow

logger = logging.getLogger(__name__)


def _flood_count(column: str) -> SelectOfScalar[int]:
    """Clicks of a partner from one device (or IP class) within a window: built once, its compiled form
    and cache key reused for every click (building it per click cost more than running it)."""
    return (
        select(func.count())
        .select_from(Touchpoint)
        .where(
            col(Touchpoint.partner_id) == bindparam("partner_id"),
            getattr(Touchpoint, column) == bindparam("value"),
            col(Touchpoint.occurred_at) > bindparam("since"),
            col(Touchpoint.occurred_at) <= bindparam("until"),
        )
    )


_FLOOD_COUNTS = {column: _flood_count(column) for column in ("device_id", "ip_class")}
# a browser already tied to a customer keeps that customer for its later clicks
_KNOWN_CUSTOMER = (
    select(Touchpoint.customer_id)
    .where(col(Touchpoint.device_id) == bindparam("device_id"), col(Touchpoint.customer_id).is_not(None))
    .limit(1)
)


def _recent(
    session: Session, *, column: str, value: str, partner_id: str, since: datetime, until: datetime
) -> int:
    params = {"partner_id": partner_id, "value": value, "since": since, "until": until}
    return int(session.execute(_FLOOD_COUNTS[column], params).scalar_one())


def is_flood(session: Session, *, touch: Touchpoint, settings: ConversionSettings) -> bool:
    """More clicks than allowed from this device or IP class for this partner within the window."""
    since = touch.occurred_at - timedelta(seconds=settings.flood_window_s)
    for column in ("device_id", "ip_class"):
        value = getattr(touch, column)
        if (
            value
            and _recent(
                session,
                column=column,
                value=value,
                partner_id=touch.partner_id,
                since=since,
                until=touch.occurred_at,
            )
            >= settings.flood_max_clicks
        ):
            return True
    return False


def _flag_partner(session: Session, partner_id: str) -> None:
    flag = session.get(PartnerFlag, partner_id)
    if flag is None:
        logger.warning("click-flood guard flagged partner %s", partner_id)
        flag = PartnerFlag(partner_id=partner_id, flagged_at=utcnow())
    flag.flood_clicks += 1
    session.add(flag)


def record_click(
    session: Session, *, event: events_pb2.ClickRecorded, settings: ConversionSettings
) -> Touchpoint:
    """Store a click published by the gateway and count it (rejected, flooded, click or view)."""
    occurred_at = from_timestamp(event.occurred_at) or utcnow()
    touch = Touchpoint(
        click_id=event.click_id,
        link_id=event.link_code,
        partner_id=event.partner_id,
        campaign_id=event.campaign_id,
        scene=event.scene,
        interaction=event.interaction or "click",
        device_id=event.device_id,
        ip_class=event.ip_class,
        attributable=event.attributable,
        rejection=event.rejection,
        occurred_at=occurred_at,
        day=occurred_at.date().isoformat(),
    )
    counters: dict[str, int] = {}
    if not touch.attributable:
        counters["rejected"] = 1
    elif is_flood(session, touch=touch, settings=settings):
        _flag_partner(session, touch.partner_id)
        counters["flooded"] = 1
        if settings.flood_guard_mode == "enforce":
            touch.attributable = False
            touch.rejection = "click_flood"
    if touch.attributable:
        counters["views" if touch.interaction == VIEW else "clicks"] = 1
    if touch.device_id:
        touch.customer_id = session.execute(_KNOWN_CUSTOMER, {"device_id": touch.device_id}).scalar()
    session.add(touch)
    bump(session, partner_id=touch.partner_id, campaign_id=touch.campaign_id, day=touch.day, **counters)
    return touch
