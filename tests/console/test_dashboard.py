"""The north-star dashboard and goals in a real browser: after the demo journey's funnel steps the
dashboard shows the API's funnel numbers; a goal set in the form shows its actual and gap; a branch
operator's dashboard holds only its branch; a bad period is refused beside its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.console.conftest import screenshot
from tools.actors import ok_json, operator_headers
from tools.core_banking_client import core_banking_client, milestone
from tools.journey import Journey, wait_until
from tools.journey_setup import PARTNER

pytestmark = pytest.mark.browser


def today() -> str:
    """Read when a test runs: a suite collected before midnight runs after it."""
    return datetime.now(UTC).date().isoformat()


STEPS = ("clicks", "landings", "linked", "acquired", "re_engaged", "activated", "upgraded")


class FunnelJourney(Journey):
    """The demo journey's funnel steps on the shared system (it has no partner postback receiver)."""

    def __init__(self, gateway_url: str) -> None:
        super().__init__([gateway_url], receiver=None, say=lambda _m: None)

    def prepare(self) -> None:
        ops, reviewer = operator_headers(self.gw, "hq-operator"), operator_headers(self.gw, "hq-reviewer")
        self.result.campaign_id = f"dash-{self.run}"
        drafted = ok_json(
            self.gw.post(
                "/v1/ops/conversion/campaigns",
                json={
                    "campaign_id": self.result.campaign_id,
                    "partner_id": PARTNER,
                    "name": "Dashboard riders",
                    "target_app_id": "life",
                    "landing_url": "https://life.bank.example/welcome",
                },
                headers=ops,
            )
        )
        review = {"version": drafted["pending"]["version"], "approve": True}
        ok_json(
            self.gw.post(
                f"/v1/ops/conversion/campaigns/{self.result.campaign_id}/review",
                json=review,
                headers=reviewer,
            )
        )

    def activated_by_core_banking(self) -> None:
        assert self.result.mbank is not None
        with core_banking_client(self.gw) as core:
            record = milestone(
                "first_transaction", self.result.mbank.customer_id, milestone_id=f"dash-tx-{self.run}"
            )
            ok_json(core.record_milestones([record], headers={"Idempotency-Key": f"dash-{self.run}"}))

    def play_funnel(self) -> str:
        self.prepare()
        self.user_clicks(self.partner_creates_link())
        self.recognised_in_life()
        self.binds_partner_account()
        self.activated_by_core_banking()
        return self.result.campaign_id


@pytest.fixture(scope="module")
def journey_campaign(stack) -> str:
    journey = FunnelJourney(stack.config.gateway_url)
    try:
        return journey.play_funnel()
    finally:
        journey.close()


def api_funnel(gateway: httpx.Client, campaign_id: str) -> dict[str, int]:
    """The API's funnel of the campaign today, once the activation is counted."""

    def report() -> dict[str, int] | None:
        body = ok_json(
            gateway.get(
                "/v1/ops/conversion/funnels",
                params={
                    "partner_id": PARTNER,
                    "campaign_id": campaign_id,
                    "from_day": today(),
                    "to_day": today(),
                },
                headers=operator_headers(gateway, "hq-viewer"),
            )
        )
        return body["totals"] if body["totals"]["activated"] >= 1 else None

    return wait_until("the activation in the funnel", report, timeout=30)


def test_dashboard_numbers_equal_the_api_funnel_after_the_journey(operator_page, gateway, journey_campaign):
    funnel = api_funnel(gateway, journey_campaign)
    assert (funnel["clicks"], funnel["acquired"], funnel["activated"]) == (1, 1, 1)
    page = operator_page("hq-viewer")
    page.goto(f"/dashboard?from={today()}&to={today()}&group_by=campaign&campaign_id={journey_campaign}")
    shown = {step: int(page.get_by_test_id(f"funnel-{step}").inner_text()) for step in STEPS}
    assert shown == {step: funnel[step] for step in STEPS}
    for metric in ("acquired", "activated", "upgraded"):
        assert int(page.get_by_test_id(f"kpi-{metric}").inner_text()) == funnel[metric]
    row = page.locator(f"[data-testid=groups] tr[data-key='{journey_campaign}']")
    assert int(row.locator("td[data-metric=activated]").inner_text()) == funnel["activated"]
    day_row = page.locator(f"[data-testid=days] tr[data-day='{today()}']")
    assert int(day_row.locator("td[data-metric=acquired]").inner_text()) == funnel["acquired"]
    page.wait_for_selector("[data-chart][data-chart-drawn] canvas")  # ECharts drew the charts
    assert page.locator("[data-chart] canvas").count() >= 3
    assert page.locator("footer .trace-link").count() >= 1
    assert page.csp_violations == []
    day = today()
    csv = page.request.get(f"/dashboard?from={day}&to={day}&campaign_id={journey_campaign}&export=days")
    assert csv.ok and f"{today()},{funnel['clicks']},{funnel['landings']}" in csv.text()
    page.goto(f"/dashboard?from={today()}&to={today()}&group_by=partner")
    screenshot(page, "dashboard")


def test_a_goal_set_in_the_form_shows_actual_and_gap_and_keeps_its_history(
    operator_page, gateway, journey_campaign
):
    api_funnel(gateway, journey_campaign)
    page = operator_page("hq-operator")
    page.goto("/goals/new")
    goal_id = f"goal-{journey_campaign}"
    page.fill("#f-goal_id", goal_id)
    page.fill("#f-objective", "做大生态获客 <script>alert(1)</script>")
    page.fill("#f-name", "Riders this day")
    page.fill("#f-campaign_id", journey_campaign)
    page.select_option("#f-m0_metric", "acquired")
    page.fill("#f-m0_from_day", today())
    page.fill("#f-m0_to_day", today())
    page.fill("#f-m0_target", "abc")  # refused by the API beside the field, the rest kept
    page.click("[data-testid=save-goal]")
    assert page.locator("#e-m0_target").is_visible()
    assert page.input_value("#f-name") == "Riders this day"
    page.fill("#f-m0_target", "4")
    page.click("[data-testid=save-goal]")
    page.wait_for_url(f"**/goals/{goal_id}")
    assert page.get_by_test_id("objective").inner_text() == "做大生态获客 <script>alert(1)</script>"
    measure = page.locator("[data-testid=measures] tr[data-metric=acquired]")
    assert (measure.get_by_test_id("actual").inner_text(), measure.get_by_test_id("gap").inner_text()) == (
        "1",
        "3",
    )
    api = ok_json(gateway.get(f"/v1/ops/goals/{goal_id}", headers=operator_headers(gateway, "hq-viewer")))
    assert api["measures"][0]["gap"] == 3
    page.click("[data-testid=edit-goal]")
    page.fill("#f-m0_target", "1")
    page.click("[data-testid=save-goal]")
    page.wait_for_url(f"**/goals/{goal_id}")
    assert page.locator("[data-testid=measures] [data-testid=gap]").first.inner_text() == "0"
    assert page.locator("[data-testid=history] tbody tr").count() == 2
    screenshot(page, "goal")
    page.goto("/goals")
    assert page.locator(f"[data-goal-id='{goal_id}']").count() == 1
    assert page.csp_violations == []
    bj = operator_page("bj-operator")
    bj.goto(f"/goals/{goal_id}")
    assert bj.get_by_test_id("problem").get_attribute("data-status") == "404"


def test_a_branch_dashboard_holds_only_its_branch_and_a_bad_period_is_refused_beside_it(
    operator_page, journey_campaign
):
    page = operator_page("sh-operator")
    page.goto(f"/dashboard?from={today()}&to={today()}&group_by=campaign")
    assert page.locator(f"[data-testid=groups] tr[data-key='{journey_campaign}']").count() == 0
    page.get_by_test_id("preset").first.click()  # the last 7 days, other filters kept
    page.wait_for_load_state("domcontentloaded")
    week_ago = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    assert (page.input_value("#f-from"), page.input_value("#f-to")) == (week_ago, today())
    assert page.input_value("#f-group_by") == "campaign"
    assert page.locator("[data-testid=days] tbody tr").count() == 7
    page.goto(f"/dashboard?from={today()}&to={today()}&branch=head_office")
    assert page.get_by_test_id("problem").get_attribute("data-status") == "403"
    page.goto(f"/dashboard?from={today()}&to=2020-01-01")
    assert page.locator("#e-from").is_visible()
    assert page.input_value("#f-to") == "2020-01-01"
    month = datetime.now(UTC).strftime("%Y%m")
    page.goto("/goals")  # the demo data's goals: the branch sees its own only
    assert page.locator(f"[data-goal-id='shanghai-local-{month}']").count() == 1
    assert page.locator(f"[data-goal-id='bank-ecosystem-{month}']").count() == 0
    beijing = operator_page("bj-operator")
    beijing.goto("/goals")
    assert beijing.locator("[data-goal-id]").count() == 0
    head_office = operator_page("hq-viewer")
    head_office.goto("/goals")
    for goal_id in (f"shanghai-local-{month}", f"bank-ecosystem-{month}", f"ride-riders-{month}"):
        assert head_office.locator(f"[data-goal-id='{goal_id}']").count() == 1
    assert head_office.get_by_test_id("new-goal").count() == 0  # a viewer sets no goals
    screenshot(head_office, "goals")
