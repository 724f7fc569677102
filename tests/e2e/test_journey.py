"""The journey through the gateway only, as a partner, the customer's apps and operators meet it."""

from __future__ import annotations

from tests.e2e.conftest import JourneyWorld
from tools.journey import Journey


def test_partner_click_to_recognised_customer_to_benefit_to_conversion(world: JourneyWorld) -> None:
    journey = Journey([world.stack.config.gateway_url], receiver=world.partner, say=lambda _m: None)
    try:
        result = journey.play()
    finally:
        journey.close()
    assert result.mbank is not None and result.life is not None
    customer_id = result.mbank.customer_id
    assert result.life.customer_id == customer_id  # one customer in both apps
    # the partner only ever saw the pairwise id
    assert result.pairwise_id and result.pairwise_id != customer_id
    assert all(customer_id not in text for text in result.partner_responses)
    assert all(customer_id not in str(p.body) for p in world.partner.received)
    # one signed postback for the activation, carrying the pairwise id (consent active)
    activations = [p for p in world.partner.received if p.body["data"].get("campaign_id") == result.campaign_id]
    assert len({p.webhook_id for p in activations}) == 1
    assert all(p.signature_valid for p in activations)
    assert activations[0].body["data"].get("pairwise_id") == result.pairwise_id
