"""The review's uplift interval: Newcombe's hybrid score interval, and "not measurable" without a control."""

from __future__ import annotations

import pytest

from services.reach.review import GroupOutcome, Review


def test_newcombes_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339
    low, high = Review(treatment=GroupOutcome(70, 56), control=GroupOutcome(80, 48)).uplift_interval()
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


@pytest.mark.parametrize(
    ("treatment", "control"),
    [((10, 0), (10, 0)), ((10, 10), (10, 10)), ((1, 1), (1000, 0)), ((5000, 123), (500, 11))],
)
def test_the_interval_holds_the_uplift_and_stays_within_minus_one_and_one(
    treatment: tuple[int, int], control: tuple[int, int]
) -> None:
    report = Review(treatment=GroupOutcome(*treatment), control=GroupOutcome(*control))
    low, high = report.uplift_interval()
    assert -1.0 <= low <= report.uplift <= high <= 1.0
    assert low < high


@pytest.mark.parametrize(("treatment", "control"), [((50, 5), (0, 0)), ((0, 0), (50, 5)), ((0, 0), (0, 0))])
def test_without_both_groups_nothing_is_measurable(
    treatment: tuple[int, int], control: tuple[int, int]
) -> None:
    report = Review(treatment=GroupOutcome(*treatment), control=GroupOutcome(*control))
    assert not report.measurable
    assert report.uplift_interval() == (0.0, 0.0)
