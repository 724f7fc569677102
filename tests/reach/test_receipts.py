"""Providers' delivery receipts through the real gateway: signed (Standard Webhooks), once, per channel."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from gateway.routes.reach.receipts import DEMO_SECRETS, ProviderReceipts, ProviderReceiptSettings
from tests.reach.test_gateway import _live, _send, _type
from tests.support.actors import operator_headers, sign_in


def _signed(
    channel: str, body: Any, *, msg_id: str = "", secret_of: str = ""
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    signature = Webhook(DEMO_SECRETS[secret_of or channel][0]).sign(msg_id, now, raw.decode())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return raw, headers


def _receipt(delivery_id: str, status: str, reason: str = "") -> dict[str, Any]:
    at = datetime.now(UTC).isoformat()
    return {"receipts": [{"delivery_id": delivery_id, "status": status, "reason": reason, "occurred_at": at}]}


def _handed_to_push(gateway: httpx.Client) -> tuple[str, str]:
    """A live push strategy whose message the sandbox provider accepted: (strategy id, delivery id)."""
    kind = _type("card_locked")
    strategy_id = _live(
        gateway,
        {
            "name": "card locked alert",
            "kind": "transactional",
            "purpose": "security",
            "segment": [{"field": "branch", "op": "eq", "values": ["shanghai"]}],
            "touchpoints": [{"channel": "push", "app_id": "mbank"}],
            "content": {"title": f"Card {kind}", "body": "Your card was locked"},
            "trigger": {"event_type": kind},
        },
    )
    assert _send(gateway, sign_in(gateway, "mbank", "m-1001"), kind).status_code == 202
    viewer = operator_headers(gateway, "hq-viewer")
    deadline = time.monotonic() + 10
    while True:
        items = gateway.get(f"/v1/ops/reach/strategies/{strategy_id}/deliveries", headers=viewer).json()[
            "items"
        ]
        if items and items[0]["status"] == "delivered":
            return strategy_id, items[0]["delivery_id"]
        assert time.monotonic() < deadline, items
        time.sleep(0.1)


def _post(gateway: httpx.Client, channel: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    return gateway.post(f"/v1/providers/{channel}/receipts", content=raw, headers=headers)


def test_a_failed_receipt_turns_the_accepted_push_into_failed_once(gateway: httpx.Client) -> None:
    strategy_id, delivery_id = _handed_to_push(gateway)
    viewer = operator_headers(gateway, "hq-viewer")
    raw, headers = _signed("push", _receipt(delivery_id, "failed", "device_unregistered"))

    # the sms provider's secret cannot speak for push, nor can another channel see push messages
    other_raw, other_headers = _signed("push", _receipt(delivery_id, "failed"), secret_of="sms")
    assert _post(gateway, "push", other_raw, other_headers).json()["code"] == "signature_invalid"
    sms_raw, sms_headers = _signed("sms", _receipt(delivery_id, "delivered"))
    assert _post(gateway, "sms", sms_raw, sms_headers).json() == {"applied": 0, "unchanged": 0, "unknown": 1}

    first = _post(gateway, "push", raw, headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"applied": 1, "unchanged": 0, "unknown": 0}
    replay = _post(gateway, "push", raw, headers)
    assert replay.status_code == 409 and replay.json()["code"] == "receipt_replayed"
    late_raw, late_headers = _signed("push", _receipt(delivery_id, "delivered"))
    assert _post(gateway, "push", late_raw, late_headers).json() == {
        "applied": 0,
        "unchanged": 1,
        "unknown": 0,
    }

    items = gateway.get(f"/v1/ops/reach/strategies/{strategy_id}/deliveries", headers=viewer).json()["items"]
    assert (items[0]["status"], items[0]["reason"]) == ("failed", "provider_device_unregistered")
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    review = gateway.get(
        f"/v1/ops/reach/strategies/{strategy_id}/review", params={"from": since}, headers=viewer
    ).json()
    assert review["delivered"] == 0 and review["sent"] == 1
    assert {"reason": "provider_device_unregistered", "count": 1} in review["suppressed"]
    # no control group: the uplift is not measurable, not a misleading zero
    assert review["measurable"] is False
    assert (review["uplift"], review["uplift_ci_low"], review["uplift_ci_high"]) == (None, None, None)


def test_a_delivered_receipt_keeps_the_message_delivered(gateway: httpx.Client) -> None:
    strategy_id, delivery_id = _handed_to_push(gateway)
    raw, headers = _signed("push", _receipt(delivery_id, "delivered"))
    assert _post(gateway, "push", raw, headers).json() == {"applied": 1, "unchanged": 0, "unknown": 0}
    viewer = operator_headers(gateway, "hq-viewer")
    items = gateway.get(f"/v1/ops/reach/strategies/{strategy_id}/deliveries", headers=viewer).json()["items"]
    assert items[0]["status"] == "delivered" and items[0]["delivered_at"]


def _bad_headers(raw: bytes, headers: dict[str, str]) -> list[dict[str, str]]:
    stale = datetime.now(UTC) - timedelta(minutes=10)
    stale_sig = Webhook(DEMO_SECRETS["push"][0]).sign(headers["webhook-id"], stale, raw.decode())
    return [
        {},
        {k: v for k, v in headers.items() if k != "webhook-signature"},
        {**headers, "webhook-signature": "v1,not-base64!"},
        {**headers, "webhook-signature": "garbage"},
        {**headers, "webhook-signature": "v1," + "A" * 2000},
        {**headers, "webhook-timestamp": "yesterday"},
        {**headers, "webhook-timestamp": str(int(stale.timestamp())), "webhook-signature": stale_sig},
        {**headers, "webhook-id": "x" * 100},
    ]


def test_unsigned_stale_or_malformed_receipts_are_401_problems(gateway: httpx.Client) -> None:
    raw, headers = _signed("push", _receipt("d-unknown", "delivered"))
    for bad in _bad_headers(raw, headers):
        resp = _post(gateway, "push", raw, {"content-type": "application/json", **bad})
        assert resp.status_code == 401, (bad, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    tampered = raw.replace(b"delivered", b"failed")
    assert _post(gateway, "push", tampered, headers).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"receipts": []},
        {"receipts": [{"delivery_id": "d1", "status": "opened", "occurred_at": "2026-01-01T00:00:00Z"}]},
        {"receipts": [{"delivery_id": "d1", "status": "failed", "occurred_at": "2026-01-01T00:00:00"}]},
        {"receipts": [{"delivery_id": "../x", "status": "failed", "occurred_at": "2026-01-01T00:00:00Z"}]},
        {
            "receipts": [
                {
                    "delivery_id": "d1",
                    "status": "failed",
                    "reason": "A B",
                    "occurred_at": "2026-01-01T00:00:00Z",
                }
            ]
        },
        {
            "receipts": [
                {"delivery_id": "d1", "status": "failed", "occurred_at": "2026-01-01T00:00:00Z", "x": 1}
            ]
        },
        {"receipts": [_receipt("d1", "delivered")["receipts"][0]] * 501},
        [],
        "text",
    ],
)
def test_signed_but_invalid_bodies_are_422_problems(gateway: httpx.Client, body: Any) -> None:
    raw, headers = _signed("push", body)
    resp = _post(gateway, "push", raw, headers)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_unknown_channels_are_refused(gateway: httpx.Client) -> None:
    raw, headers = _signed("push", _receipt("d1", "delivered"))
    for channel in ("inbox", "email", "PUSH"):
        resp = _post(gateway, channel, raw, headers)
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")


def test_demo_secrets_are_refused_in_production() -> None:
    demo = ProviderReceiptSettings()
    with pytest.raises(ValueError, match="PROVIDER_RECEIPT_SECRETS"):
        ProviderReceipts(settings=demo, environment="production")
    real = ProviderReceiptSettings(secrets={"sms": ["whsec_" + base64.b64encode(b"r" * 32).decode()]})
    assert set(ProviderReceipts(settings=real, environment="production").verifiers) == {"sms"}
