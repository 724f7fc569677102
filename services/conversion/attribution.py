"""Attribution and funnel rules as pure functions over touchpoints and milestone times (no I/O).

- Last click within its campaign's lookback wins over earlier clicks; clicks beat views; with no
  eligible touchpoint the milestone is organic.
- A new customer linking is an acquisition; an existing customer is a re-engagement only after a
  period of inactivity (an active customer re-clicking is not a conversion).
- Ordered funnels: a step counts only when the previous step counted, it is not earlier than the
  previous step, and it happens inside the conversion window that opened with the click.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

CLICK = "click"
VIEW = "view"
ACQUISITION = "acquisition"
RE_ENGAGEMENT = "re_engagement"
STEPS = ("landed", "linked", "activated", "upgraded")
COUNTERS = (
    "clicks",
    "views",
    "rejected",
    "flooded",
    "landings",
    "linked",
    "acquired",
    "re_engaged",
    "activated",
    "upgraded",
)


@dataclass(frozen=True)
class Candidate:
    """A touchpoint of the customer that could be credited, with its campaign's lookback."""

    click_id: str
    partner_id: str
    campaign_id: str
    interaction: str
    occurred_at: datetime
    lookback: timedelta


def attribute(*, candidates: Iterable[Candidate], at: datetime) -> Candidate | None:
    """The touchpoint credited with a milestone at `at`, or None (organic)."""
    eligible = [c for c in candidates if c.occurred_at <= at and at - c.occurred_at <= c.lookback]
    clicks = [c for c in eligible if c.interaction == CLICK]
    pool = clicks or [c for c in eligible if c.interaction == VIEW]
    return max(pool, key=lambda c: (c.occurred_at, c.click_id)) if pool else None


def classify_linking(
    *,
    new_customer: bool,
    active_since: datetime | None,
    last_active_at: datetime | None,
    at: datetime,
    inactivity: timedelta,
    grace: timedelta = timedelta(hours=1),
) -> str | None:
    """acquisition, re_engagement, or None for an active existing customer.

    A customer is back from inactivity when nothing was seen for `inactivity`, or when the current
    run of activity began only around `at` (events of the same visit may be processed first).
    """
    if new_customer:
        return ACQUISITION
    if last_active_at is None or at - last_active_at >= inactivity:
        return RE_ENGAGEMENT
    if active_since is not None and active_since >= at - grace:
        return RE_ENGAGEMENT
    return None


def next_activity(
    *, active_since: datetime | None, last_active_at: datetime | None, at: datetime, inactivity: timedelta
) -> tuple[datetime | None, datetime | None]:
    """(active_since, last_active_at) after activity at `at`: a long gap starts a new run."""
    if last_active_at is None or at - last_active_at >= inactivity:
        return at, at
    if at > last_active_at:
        return active_since, at
    if active_since is not None and at < active_since and active_since - at < inactivity:
        return at, last_active_at
    return active_since, last_active_at


def step_counts(
    *, previous_at: datetime | None, at: datetime, clicked_at: datetime, window_ends_at: datetime
) -> bool:
    """Ordered mode: the previous step happened, this one is not earlier, and inside the window."""
    return previous_at is not None and previous_at <= at and clicked_at <= at <= window_ends_at


@dataclass
class Journey:
    """One click with the times of the milestones credited to it (None: not reached)."""

    partner_id: str
    campaign_id: str
    clicked_at: datetime
    landed_at: datetime | None = None
    linked_at: datetime | None = None
    activated_at: datetime | None = None
    upgraded_at: datetime | None = None
    kind: str = ACQUISITION


def funnel_counts(
    *, journeys: Iterable[Journey], window: timedelta
) -> dict[tuple[str, str, str], dict[str, int]]:
    """Ordered-mode counts per (partner, campaign, click day), computed from whole journeys."""
    result: dict[tuple[str, str, str], dict[str, int]] = {}
    for j in journeys:
        key = (j.partner_id, j.campaign_id, j.clicked_at.date().isoformat())
        counts = result.setdefault(key, dict.fromkeys(COUNTERS, 0))
        counts["clicks"] += 1
        ends = j.clicked_at + window
        previous: datetime | None = j.clicked_at
        for step, at in zip(STEPS, (j.landed_at, j.linked_at, j.activated_at, j.upgraded_at), strict=True):
            if at is None or not step_counts(
                previous_at=previous, at=at, clicked_at=j.clicked_at, window_ends_at=ends
            ):
                break
            counts["landings" if step == "landed" else step] += 1
            if step == "linked":
                counts["acquired" if j.kind == ACQUISITION else "re_engaged"] += 1
            previous = at
    return result


def rates(counts: dict[str, int]) -> dict[str, float]:
    """Step conversion rates of a funnel (0 where the step before had nothing)."""

    def ratio(num: str, den: str) -> float:
        return round(counts[num] / counts[den], 4) if counts[den] else 0.0

    return {
        "landing_rate": ratio("landings", "clicks"),
        "link_rate": ratio("linked", "landings"),
        "activation_rate": ratio("activated", "linked"),
        "upgrade_rate": ratio("upgraded", "activated"),
        "click_to_linked": ratio("linked", "clicks"),
    }
