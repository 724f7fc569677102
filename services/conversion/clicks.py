"""Clicks as conversion records them: touchpoints, the click-flood guard and the click counters."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from lattice.conversion.v1 import events_pb2
from sqlalchemy import Select, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

from services.conversion.aggregates import add_at_commit, bump_at_commit
from services.conversion.attribution import VIEW
from services.conversion.config import ConversionSettings
from services.conversion.models import PartnerFlag, Touchpoint
from services.runtime.clock import from_timestamp, utcnow

logger = logging.getLogger(__name__)

# Core statements on the tables, built once with bind parameters (their compiled forms and cache keys
# reused for every click; no ORM object, unit of work or ORM result machinery per click).
_TOUCH = Touchpoint.__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
_FLAG = PartnerFlag.__table__  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it
_INSERT_TOUCH = _TOUCH.insert()


def _flood_count(column: str) -> Any:
    """Clicks of a partner from one device (or IP class) within a window, counted up to the limit
    (`>= limit` is all the guard asks; under a flood the window holds thousands of clicks and an
    uncapped count read them all for every click)."""
    capped = (
        select(literal_column("1"))
        .select_from(_TOUCH)
        .where(
            _TOUCH.c.partner_id == bindparam("partner_id"),
            _TOUCH.c[column] == bindparam(column),
            _TOUCH.c.occurred_at > bindparam("since"),
            _TOUCH.c.occurred_at <= bindparam("until"),
        )
        .limit(bindparam("limit"))
        .subquery()
    )
    return select(func.count()).select_from(capped).scalar_subquery()


# a browser already tied to a customer keeps that customer for its later clicks
_KNOWN_CUSTOMER = (
    select(_TOUCH.c.customer_id)
    .where(_TOUCH.c.device_id == bindparam("device_id"), _TOUCH.c.customer_id.is_not(None))
    .limit(1)
    .scalar_subquery()
)


def _lookup(*, device: bool, ip_class: bool, customer: bool) -> Select[Any]:
    """One statement for what a click reads: its device's and IP class's recent clicks (only the
    ones with a value, as the guard checks them) and its device's known customer."""
    return select(
        _flood_count("device_id") if device else literal_column("0"),
        _flood_count("ip_class") if ip_class else literal_column("0"),
        _KNOWN_CUSTOMER if customer else literal_column("NULL"),
    )


_LOOKUPS = {
    (device, ip_class, customer): _lookup(device=device, ip_class=ip_class, customer=customer)
    for device in (False, True)
    for ip_class in (False, True)
    for customer in (False, True)
}
_flag_upserts: dict[str, Insert] = {}


def _flag_upsert(dialect_name: str) -> Insert:
    found = _flag_upserts.get(dialect_name)
    if found is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        stmt = dialect.insert(_FLAG).values(
            partner_id=bindparam("partner_id"),
            flagged_at=bindparam("flagged_at"),
            flood_clicks=bindparam("flood_clicks"),
        )
        found = _flag_upserts[dialect_name] = stmt.on_conflict_do_update(
            index_elements=["partner_id"],
            set_={"flood_clicks": _FLAG.c.flood_clicks + stmt.excluded.flood_clicks},
        )
    return found


_FLAGGED = select(_FLAG.c.partner_id).where(_FLAG.c.partner_id.in_(bindparam("ids", expanding=True)))


def _flag_partners(session: Session, sums: dict[Any, dict[str, int]]) -> None:
    """The flooded clicks of the transaction, one upsert per partner (flagged when first seen)."""
    known = set(session.execute(_FLAGGED, {"ids": list(sums)}).scalars())
    for partner_id in sums.keys() - known:
        logger.warning("click-flood guard flagged partner %s", partner_id)
    now = utcnow()
    session.execute(
        _flag_upsert(session.get_bind().dialect.name),
        [
            {"partner_id": partner_id, "flagged_at": now, "flood_clicks": counts["flood_clicks"]}
            for partner_id, counts in sums.items()
        ],
    )


def _read(
    conn: Connection,
    *,
    partner_id: str,
    device_id: str,
    ip_class: str,
    at: datetime,
    flood: bool,
    customer: bool,
    settings: ConversionSettings,
) -> tuple[int, int, str | None]:
    """(recent clicks of the device, of the IP class, each counted up to the limit; the device's
    known customer), in one statement."""
    check_device, check_ip = flood and bool(device_id), flood and bool(ip_class)
    if not (check_device or check_ip or customer):
        return 0, 0, None
    params: dict[str, object] = {"device_id": device_id}
    if check_device or check_ip:
        params.update(
            partner_id=partner_id,
            ip_class=ip_class,
            since=at - timedelta(seconds=settings.flood_window_s),
            until=at,
            limit=max(settings.flood_max_clicks, 0),
        )
    row = conn.execute(_LOOKUPS[(check_device, check_ip, customer)], params).one()
    return int(row[0]), int(row[1]), row[2]


def record_click(session: Session, *, event: events_pb2.ClickRecorded, settings: ConversionSettings) -> None:
    """Store a click published by the gateway and count it (rejected, flooded, click or view).

    The click row is inserted at once (later clicks of the same transaction count it); its counters
    and a flood's partner flag are added once per key when the transaction commits. The statements
    run on the session's connection: Core statements on the tables, with no ORM state to flush or
    load (building the ORM's execution state per statement cost more than running it)."""
    conn = session.connection()
    occurred_at = from_timestamp(event.occurred_at) or utcnow()
    device_id, partner_id, campaign_id = event.device_id, event.partner_id, event.campaign_id
    interaction = event.interaction or "click"
    attributable, rejection = event.attributable, event.rejection
    devices, ips, customer_id = _read(
        conn,
        partner_id=partner_id,
        device_id=device_id,
        ip_class=event.ip_class,
        at=occurred_at,
        flood=attributable,
        customer=bool(device_id),
        settings=settings,
    )
    counters: dict[str, int] = {}
    if not attributable:
        counters["rejected"] = 1
    elif max(devices, ips) >= settings.flood_max_clicks:
        add_at_commit(session, _flag_partners, partner_id, {"flood_clicks": 1})
        counters["flooded"] = 1
        if settings.flood_guard_mode == "enforce":
            attributable, rejection = False, "click_flood"
    if attributable:
        counters["views" if interaction == VIEW else "clicks"] = 1
    day = occurred_at.date().isoformat()
    conn.execute(
        _INSERT_TOUCH,
        {
            "click_id": event.click_id,
            "link_id": event.link_code,
            "partner_id": partner_id,
            "campaign_id": campaign_id,
            "scene": event.scene,
            "interaction": interaction,
            "device_id": device_id,
            "ip_class": event.ip_class,
            "attributable": attributable,
            "rejection": rejection,
            "occurred_at": occurred_at,
            "day": day,
            "customer_id": customer_id,
            "landed_at": None,
        },
    )
    bump_at_commit(session, partner_id=partner_id, campaign_id=campaign_id, day=day, **counters)
