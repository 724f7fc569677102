"""The 4W1Do form's conversions without a browser: units both ways, and API errors to their fields."""

from __future__ import annotations

import pytest

from console.pages import reach_form as forms

TYPED = {
    "name": "Salary day",
    "kind": "marketing",
    "purpose": "offers",
    "seg-0-field": "branch",
    "seg-0-op": "in",
    "seg-0-values": "shanghai, beijing",
    "control_share_pct": "12.5",
    "tp-0-channel": "push",
    "tp-0-app_id": "mbank",
    "tp-1-channel": "inbox",
    "title": "Hi ${name}",
    "body": "Body",
    "when": "trigger",
    "event_type": "salary_credited",
    "trg-0-field": "properties.amount",
    "trg-0-op": "gte",
    "trg-0-values": "5000",
    "delay_min": "1.5",
    "validity_h": "48",
    "min_interval_h": "0.5",
    "conversion_window_d": "7",
}


def test_a_typed_form_becomes_the_spec_and_comes_back_the_same() -> None:
    spec = forms.spec_from_form(forms.StrategyForm(values=dict(TYPED)), number_error="bad")
    assert spec["control_share_bp"] == 1250
    assert spec["segment"] == [{"field": "branch", "op": "in", "values": ["shanghai", "beijing"]}]
    assert [t["channel"] for t in spec["touchpoints"]] == ["push", "inbox"]
    assert spec["trigger"]["delay_s"] == 90 and "schedule" not in spec
    assert (spec["validity_s"], spec["min_interval_s"], spec["conversion_window_s"]) == (172800, 1800, 604800)
    again = forms.form_from_spec(spec)
    for name, value in TYPED.items():
        expected = "shanghai, beijing" if name == "seg-0-values" else value
        assert again.get(name) == expected, name


def test_a_schedule_is_read_as_shanghai_wall_clock() -> None:
    form = forms.StrategyForm(
        values={**TYPED, "when": "schedule", "start_at": "2026-12-01T09:30", "every_h": "24"}
    )
    spec = forms.spec_from_form(form, number_error="bad")
    assert (
        spec["schedule"] == {"start_at": "2026-12-01T09:30:00+08:00", "every_s": 86400}
        and "trigger" not in spec
    )
    assert forms.form_from_spec(spec).get("start_at") == "2026-12-01T09:30"


@pytest.mark.parametrize(
    ("name", "typed"), [("delay_min", "x"), ("validity_h", "-1"), ("control_share_pct", "1.234")]
)
def test_numbers_that_are_not_whole_api_units_stay_beside_their_field(name: str, typed: str) -> None:
    form = forms.StrategyForm(values={**TYPED, name: typed})
    forms.spec_from_form(form, number_error="bad")
    assert form.errors == {name: "bad"} and form.get(name) == typed


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (["body", "name"], "name"),
        (["body", "segment", "2", "values", "0"], "seg-2-values"),
        (["body", "touchpoints"], "tp-0-channel"),
        (["body", "touchpoints", "1", "app_id"], "tp-1-app_id"),
        (["body", "trigger", "event_type"], "event_type"),
        (["body", "trigger", "predicates", "0", "op"], "trg-0-op"),
        (["body", "trigger", "delay_s"], "delay_min"),
        (["body", "schedule", "start_at"], "start_at"),
        (["body", "content", "title"], "title"),
        (["body", "control_share_bp"], "control_share_pct"),
        (["body", "validity_s"], "validity_h"),
        (["body"], ""),
    ],
)
def test_api_errors_land_beside_the_field_the_operator_typed(loc: list[str], field: str) -> None:
    assert forms.field_of(loc) == field


def test_errors_no_field_owns_go_above_the_form() -> None:
    form = forms.with_api_errors(
        forms.StrategyForm(values=dict(TYPED)),
        [{"loc": ["body"], "msg": "set exactly one of trigger and schedule"}],
        "",
    )
    assert form.general == ["set exactly one of trigger and schedule"] and not form.errors
    detail_only = forms.with_api_errors(forms.StrategyForm(values=dict(TYPED)), [], "compliance: rule x")
    assert detail_only.general == ["compliance: rule x"]
