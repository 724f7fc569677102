"""Milestones of a customer's journey: landing, identity linked, activated, upgraded.

Clicks are tied to a customer when an event carries their click_id (the click_id survives sign-in,
so one person is one funnel entry); milestones in any app of the matrix are joined by customer id.
Events may be processed in another order than they happened: activation and upgrade times are kept
on the customer and applied when the funnel entry appears.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from services.conversion.aggregates import bump
from services.conversion.attribution import (
    ACQUISITION,
    RE_ENGAGEMENT,
    Candidate,
    attribute,
    classify_linking,
    next_activity,
    step_counts,
)
from services.conversion.config import ConversionSettings
from services.conversion.milestones import announce, credit
from services.conversion.models import Campaign, CustomerJourney, FunnelEntry, Touchpoint

MAX_LOOKBACK = timedelta(days=90)


class ClickPending(Exception):
    """An event names a click that is not recorded yet (its event may still be on its way)."""


class ActivityPending(Exception):
    """A sign-in would count as re-engagement, but the customer's earlier app activity may not be
    applied yet (app events and identity events come through separate consumers)."""


REGISTRATION_GRACE = timedelta(hours=1)


def _journey(session: Session, customer_id: str, at: datetime) -> CustomerJourney:
    journey = session.get(CustomerJourney, customer_id)
    if journey is None:
        journey = CustomerJourney(customer_id=customer_id, first_seen_at=at)
        session.add(journey)
    return journey


def note_activity(session: Session, *, customer_id: str, at: datetime, settings: ConversionSettings) -> None:
    """Remember that the customer was active at `at` (for re-engagement)."""
    journey = _journey(session, customer_id, at)
    journey.active_since, journey.last_active_at = next_activity(
        active_since=journey.active_since,
        last_active_at=journey.last_active_at,
        at=at,
        inactivity=timedelta(days=settings.inactivity_days),
    )
    session.add(journey)


def record_landing(
    session: Session, *, click_id: str, customer_id: str, app_id: str, at: datetime, wait_for_click: bool
) -> Touchpoint | None:
    """The first event carrying a click_id is the landing; it also ties the click to the customer."""
    touch = session.get(Touchpoint, click_id)
    if touch is None:
        if wait_for_click:
            raise ClickPending("the click is not recorded yet")  # never the client's click id: it is logged
        return None
    campaign = session.get(Campaign, touch.campaign_id)
    if touch.attributable and campaign is not None:
        window_ends = touch.occurred_at + timedelta(days=campaign.conversion_window_days)
        if touch.landed_at is None and touch.occurred_at <= at <= window_ends:
            touch.landed_at = at
            bump(
                session, partner_id=touch.partner_id, campaign_id=touch.campaign_id, day=touch.day, landings=1
            )
            announce(
                session,
                milestone="landed",
                customer_id=customer_id,
                at=at,
                app_id=app_id,
                partner_id=touch.partner_id,
                campaign_id=touch.campaign_id,
                click_id=click_id,
            )
        elif touch.landed_at is not None and touch.occurred_at <= at < touch.landed_at:
            touch.landed_at = at
        _landing_reached_entry(session, touch)
    if customer_id and touch.customer_id is None:
        touch.customer_id = customer_id
        if touch.device_id:
            session.execute(
                update(Touchpoint)
                .where(col(Touchpoint.device_id) == touch.device_id, col(Touchpoint.customer_id).is_(None))
                .values(customer_id=customer_id)
            )
    session.add(touch)
    return touch


def _candidates(session: Session, *, customer_id: str, at: datetime) -> list[tuple[Candidate, Touchpoint]]:
    stmt = select(Touchpoint).where(
        col(Touchpoint.customer_id) == customer_id,
        col(Touchpoint.attributable).is_(True),
        col(Touchpoint.occurred_at) >= at - MAX_LOOKBACK,
        col(Touchpoint.occurred_at) <= at,
    )
    result = []
    for touch in session.exec(stmt):
        campaign = session.get(Campaign, touch.campaign_id)
        if campaign is None:
            continue
        candidate = Candidate(
            click_id=touch.click_id,
            partner_id=touch.partner_id,
            campaign_id=touch.campaign_id,
            interaction=touch.interaction,
            occurred_at=touch.occurred_at,
            lookback=timedelta(days=campaign.lookback_days),
        )
        result.append((candidate, touch))
    return result


def _open_entry(session: Session, journey: CustomerJourney, at: datetime) -> FunnelEntry | None:
    entry = session.get(FunnelEntry, journey.entry_id) if journey.entry_id else None
    return entry if entry is not None and at <= entry.window_ends_at else None


def record_linking(
    session: Session,
    *,
    customer_id: str,
    app_id: str,
    click_id: str,
    new_customer: bool,
    at: datetime,
    wait_for_click: bool,
    settings: ConversionSettings,
    activity_settled: bool = True,
) -> None:
    """Identity linked / registered / recognised: attribute it and open the customer's funnel entry.

    `activity_settled=False` raises ActivityPending instead of opening a re-engagement entry, for the
    caller to make sure the app events before the sign-in are applied first."""
    if click_id:
        record_landing(
            session,
            click_id=click_id,
            customer_id=customer_id,
            app_id=app_id,
            at=at,
            wait_for_click=wait_for_click,
        )
    journey = _journey(session, customer_id, at)
    if new_customer and journey.registered_at is None:
        journey.registered_at = at
    # registered moments ago in a sibling app, then linked here with the click: still an acquisition
    registered_now = (
        journey.registered_at is not None and abs(at - journey.registered_at) <= REGISTRATION_GRACE
    )
    kind = classify_linking(
        new_customer=new_customer or registered_now,
        active_since=journey.active_since,
        last_active_at=journey.last_active_at,
        at=at,
        inactivity=timedelta(days=settings.inactivity_days),
    )
    note_activity(session, customer_id=customer_id, at=at, settings=settings)
    entry = _open_entry(session, journey, at)
    if entry is not None and kind == ACQUISITION and entry.kind == RE_ENGAGEMENT:
        _relabel_as_acquisition(session, entry)
    if kind is None or entry is not None:
        return
    pairs = _candidates(session, customer_id=customer_id, at=at)
    winner = attribute(candidates=[c for c, _ in pairs], at=at)
    if winner is None:
        announce(session, milestone="linked", customer_id=customer_id, at=at, app_id=app_id, kind=kind)
        return
    if kind == RE_ENGAGEMENT and not activity_settled:
        raise ActivityPending(customer_id)
    touch = next(t for c, t in pairs if c.click_id == winner.click_id)
    campaign = session.get(Campaign, touch.campaign_id)
    assert campaign is not None
    entry = FunnelEntry(
        entry_id=uuid.uuid4().hex,
        customer_id=customer_id,
        click_id=touch.click_id,
        partner_id=touch.partner_id,
        campaign_id=touch.campaign_id,
        kind=kind,
        day=touch.day,
        clicked_at=touch.occurred_at,
        window_ends_at=touch.occurred_at + timedelta(days=campaign.conversion_window_days),
        landed_at=touch.landed_at,
        linking_at=at,
    )
    session.add(entry)
    journey.entry_id = entry.entry_id
    catch_up(session, entry=entry, journey=journey, app_id=app_id)


def _landing_reached_entry(session: Session, touch: Touchpoint) -> None:
    """A landing processed after the sign-in it preceded still opens the ordered funnel."""
    entry = session.exec(select(FunnelEntry).where(col(FunnelEntry.click_id) == touch.click_id)).first()
    if entry is None or entry.linked_at is not None or touch.landed_at is None:
        return
    entry.landed_at = touch.landed_at
    journey = session.get(CustomerJourney, entry.customer_id)
    if journey is not None:
        catch_up(session, entry=entry, journey=journey, app_id="")


def catch_up(session: Session, *, entry: FunnelEntry, journey: CustomerJourney, app_id: str) -> None:
    """Credit, in order, every step whose time is known and that follows the previous step."""
    previous = entry.landed_at
    steps = (
        ("linked", entry.linking_at),
        ("activated", journey.activated_at),
        ("upgraded", journey.upgraded_at),
    )
    for step, at in steps:
        done = getattr(entry, f"{step}_at")
        if done is None:
            if at is None or not _advance(
                session, entry=entry, step=step, previous_at=previous, at=at, app_id=app_id
            ):
                return
            done = at
        previous = done


def _relabel_as_acquisition(session: Session, entry: FunnelEntry) -> None:
    """The sign-in was seen before the registration of the same new customer: fix the entry's kind."""
    entry.kind = ACQUISITION
    session.add(entry)
    if entry.linked_at is not None:
        bump(
            session,
            partner_id=entry.partner_id,
            campaign_id=entry.campaign_id,
            day=entry.day,
            acquired=1,
            re_engaged=-1,
        )


def _advance(
    session: Session,
    *,
    entry: FunnelEntry,
    step: str,
    previous_at: datetime | None,
    at: datetime,
    app_id: str,
) -> bool:
    """Credit `step` if it follows the previous one inside the window (ordered mode)."""
    if getattr(entry, f"{step}_at") is not None:
        return False
    if not step_counts(
        previous_at=previous_at, at=at, clicked_at=entry.clicked_at, window_ends_at=entry.window_ends_at
    ):
        return False
    setattr(entry, f"{step}_at", at)
    session.add(entry)
    credit(session, entry=entry, milestone=step, at=at, app_id=app_id)
    return True


def record_behaviour(
    session: Session,
    *,
    customer_id: str,
    app_id: str,
    milestone: str,
    at: datetime,
    settings: ConversionSettings,
) -> None:
    """A qualifying behaviour (first transaction -> activated, tier promotion -> upgraded)."""
    journey = _journey(session, customer_id, at)
    if milestone == "activated":
        if journey.activated_at is not None and journey.activated_at <= at:
            return
        journey.activated_at = at
    else:
        journey.upgraded_at = max(journey.upgraded_at or at, at)
    session.add(journey)
    entry = session.get(FunnelEntry, journey.entry_id) if journey.entry_id else None
    if entry is not None:
        catch_up(session, entry=entry, journey=journey, app_id=app_id)
    if entry is None or getattr(entry, f"{milestone}_at") != at:
        announce(session, milestone=milestone, customer_id=customer_id, at=at, app_id=app_id)
