"""Head office prepares the journey's campaign: partner postbacks, a reviewed campaign, a reviewed coupon,
a reviewed welcome notice and an approved welcome strategy — all through the gateway's ops routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tools.actors import ok_json, operator_headers
from tools.postback_receiver import PostbackReceiver

PARTNER = "ride"


@dataclass(frozen=True)
class Prepared:
    campaign_id: str
    benefit_id: str
    item_id: str
    strategy_id: str


def prepare_welcome_campaign(
    gw: Callable[[], httpx.Client], *, receiver: PostbackReceiver, run: str
) -> Prepared:
    """Set up everything the journey needs; `gw()` gives the gateway client for each call."""
    ops, reviewer = operator_headers(gw(), "hq-operator"), operator_headers(gw(), "hq-reviewer")
    admin = operator_headers(gw(), "hq-admin")
    endpoint = ok_json(
        gw().put(
            f"/v1/ops/conversion/partners/{PARTNER}/postback",
            json={"url": receiver.url, "rotate_secret": True},
            headers=admin,
        )
    )
    receiver.secret = endpoint["secret"]
    campaign_id = f"welcome-{run}"
    drafted = ok_json(
        gw().post(
            "/v1/ops/conversion/campaigns",
            json={
                "campaign_id": campaign_id,
                "partner_id": PARTNER,
                "name": "Ride riders welcome",
                "target_app_id": "life",
                "landing_url": "https://life.bank.example/welcome",
                "cpa_amount_minor": 3000,
                "commission_milestone": "activated",
                "postback_milestones": ["activated"],
            },
            headers=ops,
        )
    )
    ok_json(
        gw().post(
            f"/v1/ops/conversion/campaigns/{campaign_id}/review",
            json={"version": drafted["pending"]["version"], "approve": True},
            headers=reviewer,
        )
    )
    benefit_id = f"ride-welcome-{run}"
    ok_json(
        gw().post(
            "/v1/ops/benefits",
            json={
                "benefit_id": benefit_id,
                "name": "Ride welcome coupon 10 CNY",
                "kind": "fixed_coupon",
                "funder": f"partner:{PARTNER}",
                "face_value": 1000,
                "usable_scopes": ["app:*", f"partner:{PARTNER}"],
                "valid_days": 30,
                "total_budget": 1_000_000,
                "per_customer_limit": 1,
            },
            headers=ops,
        )
    )
    ok_json(gw().post(f"/v1/ops/benefits/{benefit_id}/review", json={"approve": True}, headers=reviewer))
    item_id = f"ride-welcome-{run}"
    variant = {
        "edition": "standard",
        "texts": [
            {"locale": "zh-Hans", "title": "欢迎来自出行伙伴的您", "body": "10元出行券已放入您的钱包。"},
            {
                "locale": "en",
                "title": "Welcome, ride rider",
                "body": "A 10 CNY ride coupon is in your wallet.",
            },
        ],
        "deep_link": "life://wallet",
    }
    ok_json(
        gw().post(
            "/v1/ops/content/items",
            json={"item_id": item_id, "type": "notice", "variants": [variant]},
            headers=ops,
        )
    )
    ok_json(gw().post(f"/v1/ops/content/items/{item_id}/submit", json={}, headers=ops))
    ok_json(gw().post(f"/v1/ops/content/items/{item_id}/approve", json={}, headers=reviewer))
    ok_json(gw().post(f"/v1/ops/content/items/{item_id}/publish", json={}, headers=ops))
    strategy = ok_json(
        gw().post(
            "/v1/ops/reach/strategies",
            json={
                "name": f"Welcome ride riders {run}",
                "purpose": "welcome",
                "touchpoints": [{"channel": "inbox", "app_id": "life"}],
                "content": {"content_item_id": item_id, "locale": "en"},
                "deep_link": "life://wallet",
                "trigger": {
                    "event_type": "identity.partner_link.created",
                    "predicates": [{"field": "properties.partner_id", "op": "eq", "values": [PARTNER]}],
                },
                "benefit_id": benefit_id,
            },
            headers=ops,
        )
    )
    strategy_id = strategy.get("strategy_id") or strategy["strategy"]["strategy_id"]
    ok_json(gw().post(f"/v1/ops/reach/strategies/{strategy_id}/approve", json={}, headers=reviewer))
    ok_json(gw().post(f"/v1/ops/reach/strategies/{strategy_id}/activate", json={}, headers=ops))
    return Prepared(campaign_id, benefit_id, item_id, strategy_id)
