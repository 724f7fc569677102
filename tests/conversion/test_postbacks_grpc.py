"""Signed postbacks to a real local receiver: retries with the same id, dead letters, SSRF refusals."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from lattice.conversion.v1 import conversion_pb2 as pb
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.runtime.clock import utcnow
from tests.conversion.conftest import Conversion, eventually, running_conversion, unique
from tests.conversion.receiver import Receiver, running_receiver


def postback_env(receiver: Receiver) -> dict[str, str]:
    return {
        "CONVERSION_POSTBACK_ALLOWLIST": json.dumps([f"127.0.0.1:{receiver.port}"]),
        "CONVERSION_POSTBACK_BACKOFF_S": "0.1",
        "CONVERSION_POSTBACK_MAX_ATTEMPTS": "3",
        # far beyond every wait below: a delivery goes when the commit that queued it wakes the
        # sender, and each retry when it falls due, never on a poll
        "CONVERSION_POSTBACK_POLL_INTERVAL_S": "60",
    }


async def partner_with_endpoint(conv: Conversion, url: str) -> tuple[str, str, str]:
    """(partner_id, campaign_id, secret) of a partner whose campaign posts back on `linked`."""
    partner = unique("pb")
    await conv.partner(partner)
    endpoint = await conv.stub.SetPostbackEndpoint(pb.SetPostbackEndpointRequest(partner_id=partner, url=url))
    assert endpoint.secret.startswith("whsec_")
    campaign = await conv.campaign(partner, postback_milestones=["linked"])
    return partner, campaign, endpoint.secret


async def convert_one(conv: Conversion, partner: str, campaign: str) -> str:
    now = utcnow()
    click = await conv.click(partner_id=partner, campaign_id=campaign, at=now - timedelta(minutes=5))
    customer = unique("cust")
    await conv.linked(customer_id=customer, click_id=click, at=now)
    return customer


async def deliveries(conv: Conversion, partner: str) -> list[pb.PostbackDelivery]:
    resp = await conv.stub.ListPostbackDeliveries(pb.ListPostbackDeliveriesRequest(partner_id=partner))
    return list(resp.deliveries)


async def test_503_twice_then_delivered_with_the_same_id_and_a_valid_signature(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with (
        running_receiver() as receiver,
        running_conversion(tmp_path, conversion_nats, postback_env(receiver)) as conv,
    ):
        receiver.answer("/hooks/a", 503, 503)
        partner, campaign, secret = await partner_with_endpoint(conv, receiver.url("/hooks/a"))
        customer = await convert_one(conv, partner, campaign)

        async def delivered() -> pb.PostbackDelivery:
            found = await deliveries(conv, partner)
            assert [d.status for d in found] == ["delivered"]
            d = found[0]
            return d

        delivery = await eventually(delivered)
        attempts = receiver.on("/hooks/a")
        assert delivery.attempts == 3 and len(attempts) == 3
        assert {a.headers["webhook-id"] for a in attempts} == {delivery.delivery_id}
        payload = Webhook(secret).verify(attempts[-1].body, attempts[-1].headers)
        assert payload["type"] == "conversion.milestone.reached"
        assert payload["data"]["milestone"] == "linked" and payload["data"]["campaign_id"] == campaign
        assert "pairwise_id" not in payload["data"]
        assert customer not in attempts[-1].body
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "QUJD" * 8).verify(attempts[-1].body, attempts[-1].headers)


async def test_the_last_failed_attempt_dead_letters_and_redirects_to_private_hosts_are_not_followed(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with (
        running_receiver() as receiver,
        running_conversion(tmp_path, conversion_nats, postback_env(receiver)) as conv,
    ):
        receiver.answer("/down", 503, 502, 504, 500)
        receiver.answer("/moved", (307, {"location": "https://10.0.0.1/steal"}))
        down, down_campaign, _ = await partner_with_endpoint(conv, receiver.url("/down"))
        moved, moved_campaign, _ = await partner_with_endpoint(conv, receiver.url("/moved"))
        await convert_one(conv, down, down_campaign)
        await convert_one(conv, moved, moved_campaign)

        async def dead(partner: str) -> pb.PostbackDelivery:
            found = await deliveries(conv, partner)
            assert [d.status for d in found] == ["dead_lettered"]
            d = found[0]
            return d

        assert (await eventually(lambda: dead(down))).attempts == 3
        assert len(receiver.on("/down")) == 3
        refused = await eventually(lambda: dead(moved))
        assert refused.last_error == "postback_url_forbidden" and len(receiver.on("/moved")) == 1


@pytest.mark.parametrize("url", ["https://169.254.169.254/", "https://10.0.0.1/", "https://127.0.0.1:1/"])
async def test_internal_postback_urls_are_rejected_at_registration(
    url: str, tmp_path: Path, conversion_nats: str
) -> None:
    async with running_conversion(tmp_path, conversion_nats) as conv:
        partner = unique("ssrf")
        await conv.partner(partner)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await conv.stub.SetPostbackEndpoint(pb.SetPostbackEndpointRequest(partner_id=partner, url=url))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(err.value.trailing_metadata() or ())["lattice-reason"] == "postback_url_forbidden"
