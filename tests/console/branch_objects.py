"""Beijing's objects of every kind, written through the API by Beijing's operator, each named with a
marker and an escaping payload; and how head office reads them back (for the console's security tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.support.actors import operator_headers

# a <script> element, an attribute break-out and an event handler: escaped, none of them survives as markup
PAYLOAD = "<script>document.title='xss'</script>\"'><img src=x onerror=alert(1)>"
RAW = ("<script>document.title", "<img src=x onerror")
ESCAPED = "&lt;script&gt;document.title="
# a cell starting with one of these runs as a formula when an analyst opens the export in a spreadsheet
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def today() -> str:
    """Read when a test runs: a suite collected before midnight runs after it."""
    return datetime.now(UTC).date().isoformat()


def created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def write_beijing_objects(gateway: httpx.Client) -> dict[str, str]:
    """Objects of every kind written by Beijing's operator, each named with a marker and the payload."""
    marker = f"bjmark{uuid.uuid4().hex[:8]}"
    name = f"{marker} {PAYLOAD}"
    headers = operator_headers(gateway, "bj-operator")
    uid = uuid.uuid4().hex[:8]
    texts = [{"locale": locale, "title": name, "body": f"{PAYLOAD} body"} for locale in ("zh-Hans", "en")]
    created(
        gateway.post(
            "/v1/ops/content/items",
            json={
                "item_id": f"sec-item-{uid}",
                "type": "notice",
                "variants": [{"edition": "standard", "texts": texts}],
            },
            headers=headers,
        )
    )
    created(gateway.post(f"/v1/ops/content/items/sec-item-{uid}/submit", headers=headers))
    created(
        gateway.post(
            "/v1/ops/conversion/campaigns",
            json={
                "campaign_id": f"sec-camp-{uid}",
                "partner_id": "ride",
                "name": name,
                "branch": "beijing",
                "target_app_id": "life",
                "landing_url": "https://life.bank.example/sec",
            },
            headers=headers,
        )
    )
    created(
        gateway.post(
            "/v1/ops/benefits",
            json={
                "benefit_id": f"sec-ben-{uid}",
                "name": name,
                "kind": "fixed_coupon",
                "funder": "dept:retail",
                "face_value": 500,
                "total_budget": 50_000,
                "usable_scopes": ["app:*"],
                "valid_days": 7,
            },
            headers=headers,
        )
    )
    strategy = {
        "name": name,
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": name, "body": PAYLOAD},
        "trigger": {"event_type": "identity.app_account.linked"},
    }
    strategy_id = created(gateway.post("/v1/ops/reach/strategies", json=strategy, headers=headers))[
        "strategy_id"
    ]
    goal = {
        "goal_id": f"sec-goal-{uid}",
        "objective": name,
        "name": f"=HYPERLINK(1) {marker}",
        "branch": "beijing",
        "measures": [{"metric": "acquired", "from_day": today(), "to_day": today(), "target": 3}],
    }
    created(gateway.post("/v1/ops/goals", json=goal, headers=headers))
    return {
        "marker": marker,
        "item_id": f"sec-item-{uid}",
        "campaign_id": f"sec-camp-{uid}",
        "benefit_id": f"sec-ben-{uid}",
        "strategy_id": strategy_id,
        "goal_id": f"sec-goal-{uid}",
    }


# how head office reads each of Beijing's objects through the API (goals' actuals move with traffic)
READS = {
    "item_id": "/v1/ops/content/items/{}",
    "campaign_id": "/v1/ops/conversion/campaigns/{}",
    "benefit_id": "/v1/ops/benefits/{}",
    "strategy_id": "/v1/ops/reach/strategies/{}",
    "goal_id": "/v1/ops/goals/{}",
}
CHOICES = {
    "kind": ("content_item", "benefit", "strategy", "campaign"),
    "action": ("submit", "approve", "reject", "publish", "archive", "rollback"),
}
FORGED_FORM = {
    "reason": "forged",
    "note": "forged",
    "decision": "approve",
    "action": "pause",
    "state": "paused",
    "status": "paused",
    "amount": "100",
    "total_budget_increase": "100",
    "daily_budget_increase": "100",
    "valid_until": "2099-01-01T00:00",
    "name": "forged",
    "objective": "forged",
}


def state_of(gateway: httpx.Client, beijing: dict[str, str]) -> dict[str, Any]:
    admin = operator_headers(gateway, "hq-viewer")  # not a walker: its quota is untouched
    state = {}
    for key, path in READS.items():
        body = created(gateway.get(path.format(beijing[key]), headers=admin))
        state[key] = {k: v for k, v in body.items() if k not in ("measures", "budget_remaining")}
    return state


def walker(gateway: httpx.Client, *, role: str, branch: str | None = None) -> tuple[str, str]:
    """A fresh operator (id, secret) for a walk: the API's per-operator quota is then the walk's own,
    and the demo operators' quotas stay whole for the other tests on the shared system."""
    operator_id = f"sec-{role[:3]}-{uuid.uuid4().hex[:8]}"
    body = {"operator_id": operator_id, "role": role, **({"branch": branch} if branch else {})}
    answer = created(
        gateway.post("/v1/ops/operators", json=body, headers=operator_headers(gateway, "hq-admin"))
    )
    return operator_id, answer["client_secret"]
