"""Attribution and ordered-funnel rules on fixtures with a controlled clock (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.conversion.attribution import (
    ACQUISITION,
    RE_ENGAGEMENT,
    Candidate,
    Journey,
    attribute,
    classify_linking,
    funnel_counts,
    next_activity,
    rates,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def touch(
    click_id: str, partner: str, *, days_before: float, lookback: timedelta = WEEK, kind: str = "click"
) -> Candidate:
    return Candidate(click_id, partner, f"camp-{partner}", kind, T0 - timedelta(days=days_before), lookback)


def test_last_click_within_lookback_wins() -> None:
    won = attribute(candidates=[touch("a", "p1", days_before=5), touch("b", "p2", days_before=2)], at=T0)
    assert won is not None and won.partner_id == "p2"


def test_a_click_older_than_the_lookback_is_organic() -> None:
    assert attribute(candidates=[touch("a", "p1", days_before=8)], at=T0) is None
    assert attribute(candidates=[touch("a", "p1", days_before=6.9)], at=T0) is not None


def test_a_one_day_campaign_override_is_respected() -> None:
    short = timedelta(days=1)
    candidates = [touch("a", "p1", days_before=3), touch("b", "p2", days_before=2, lookback=short)]
    won = attribute(candidates=candidates, at=T0)
    assert won is not None and won.partner_id == "p1"
    assert attribute(candidates=[touch("b", "p2", days_before=0.5, lookback=short)], at=T0) is not None


def test_clicks_beat_later_views_and_views_count_without_clicks() -> None:
    click = touch("a", "p1", days_before=3)
    view = touch("b", "p2", days_before=1, kind="view")
    won = attribute(candidates=[click, view], at=T0)
    assert won is not None and won.click_id == "a"
    only_view = attribute(candidates=[view], at=T0)
    assert only_view is not None and only_view.click_id == "b"


def test_touchpoints_after_the_milestone_are_not_credited() -> None:
    later = Candidate("z", "p9", "c", "click", T0 + timedelta(minutes=1), WEEK)
    assert attribute(candidates=[later], at=T0) is None


def test_new_customers_are_acquired_and_returning_inactive_ones_re_engaged() -> None:
    month = timedelta(days=30)
    kwargs = {"at": T0, "inactivity": month}
    assert (
        classify_linking(new_customer=True, active_since=None, last_active_at=None, **kwargs) == ACQUISITION
    )
    active_since, last = T0 - timedelta(days=200), T0 - timedelta(days=1)
    assert (
        classify_linking(new_customer=False, active_since=active_since, last_active_at=last, **kwargs) is None
    )
    gone = T0 - timedelta(days=45)
    assert (
        classify_linking(new_customer=False, active_since=active_since, last_active_at=gone, **kwargs)
        == RE_ENGAGEMENT
    )
    # events of the comeback visit processed before the sign-in must not hide the inactivity
    since, last = next_activity(
        active_since=active_since, last_active_at=gone, at=T0 + timedelta(seconds=5), inactivity=month
    )
    assert since == T0 + timedelta(seconds=5)
    assert (
        classify_linking(new_customer=False, active_since=since, last_active_at=last, **kwargs)
        == RE_ENGAGEMENT
    )


def funnel_fixture(start: datetime) -> list[Journey]:
    """Six journeys of one campaign clicked on one day; times relative to each click."""

    def j(hour: int, *steps: float | None) -> Journey:
        clicked = start + timedelta(hours=hour)
        at = [None if s is None else clicked + timedelta(days=s) for s in steps]
        at += [None] * (4 - len(at))
        return Journey("pf", "cf", clicked, *at)

    return [
        j(1, 0.001, 0.003, 2, 5),  # all four steps, activated and upgraded in another app
        j(2, 0.001, 0.003, 20, 21),  # activated after the 14-day window: stops at linked
        j(3, 0.001),  # landed only
        j(4),  # clicked only
        j(5, 0.001, 0.003, None, 3),  # upgraded without activation: not counted in ordered mode
        j(6, 0.002, 0.002, 0.001),  # activation recorded before linking: out of order, not counted
    ]


def test_ordered_funnel_counts_with_a_14_day_window() -> None:
    start = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    counts = funnel_counts(journeys=funnel_fixture(start), window=timedelta(days=14))
    assert counts == {
        ("pf", "cf", "2026-02-01"): {
            "clicks": 6,
            "views": 0,
            "rejected": 0,
            "flooded": 0,
            "landings": 5,
            "linked": 4,
            "acquired": 4,
            "re_engaged": 0,
            "activated": 1,
            "upgraded": 1,
        }
    }
    assert rates(counts[("pf", "cf", "2026-02-01")])["link_rate"] == 0.8
