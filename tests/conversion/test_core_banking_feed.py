"""The core banking feed's own credentials through the gateway: only the core system's signature, on
exactly this request, now, once, is accepted; bad input is a 422 problem; a replay gets the first answer."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gateway.core_banking import CoreBanking, CoreBankingSettings
from gateway.policies.store import open_store
from gateway.routes.core.milestones import MAX_MILESTONES
from services.identity import demo_data
from services.runtime.clock import utcnow
from tests.conversion.system import running_system
from tests.support import actors
from tools.core_banking_client import CoreBankingSigner, milestone
from tools.partner_client import PartnerSigner

PATH = "/v1/core/milestones"


def body_of(*milestones: dict[str, Any]) -> bytes:
    return json.dumps({"milestones": list(milestones)}, separators=(",", ":")).encode()


def signed(body: bytes, signer: CoreBankingSigner | None = None, **signing: Any) -> dict[str, str]:
    headers = (signer or CoreBankingSigner()).headers(method="POST", path=PATH, body=body, **signing)
    return {"Content-Type": "application/json", **headers}


def refusals(gw: httpx.Client) -> list[tuple[str, bytes, dict[str, str]]]:
    """Requests that must not pass, each with the problem code it must get."""
    body = body_of(milestone("first_transaction", "cust-refused"))
    now = int(time.time())
    replayed = signed(body)
    assert gw.post(PATH, content=body, headers=replayed).status_code == 202
    _, _, ride_key_id, ride_secret = demo_data.DEMO_PARTNERS["ride"]
    partner = PartnerSigner(partner_id="ride", key_id=ride_key_id, secret=ride_secret)
    as_partner = partner.headers(method="POST", url=str(gw.base_url.join(PATH)), body=body)
    customer = actors.sign_in(gw, "life", "core-feed-customer")
    json_type = {"Content-Type": "application/json"}
    return [
        ("nonce_reused", body, replayed),
        ("signature_invalid", body, signed(body, CoreBankingSigner(secret=b"not-the-core-key" * 2))),
        ("signature_invalid", body_of(milestone("first_transaction", "cust-other")), signed(body)),
        ("signature_expired", body, signed(body, timestamp=now - 400)),
        ("signature_expired", body, signed(body, timestamp=now + 400)),
        ("unknown_key", body, signed(body, CoreBankingSigner(key_id="core-other-k9"))),
        ("unknown_system", body, signed(body, CoreBankingSigner(system_id="ride"))),
        ("signature_malformed", body, {**signed(body), "X-Lattice-Signature": "not base64!"}),
        ("signature_missing", body, json_type),
        ("signature_missing", body, {**json_type, **as_partner}),
        ("signature_missing", body, {**json_type, **customer.headers}),
        ("signature_missing", body, {**json_type, **actors.operator_headers(gw, "hq-admin")}),
    ]


def invalid_bodies() -> dict[str, bytes]:
    """Well-signed requests with bad input, each a 422 problem."""
    now = utcnow()
    good = milestone("first_transaction", "cust-1")
    return {
        "unknown kind": body_of({**good, "kind": "login"}),
        "tier missing": body_of(milestone("aum_tier_upgraded", "cust-1") | {"tier": None}),
        "tier on activation": body_of({**good, "tier": "gold"}),
        "in the future": body_of({**good, "occurred_at": (now + timedelta(hours=1)).isoformat()}),
        "too old": body_of({**good, "occurred_at": (now - timedelta(days=91)).isoformat()}),
        "naive time": body_of({**good, "occurred_at": now.replace(tzinfo=None).isoformat()}),
        "extra field": body_of({**good, "amount": 10}),
        "empty batch": body_of(),
        "batch too big": body_of(*[milestone("first_transaction", "c") for _ in range(MAX_MILESTONES + 1)]),
        "personal number as id": body_of({**good, "milestone_id": "tx-13812345678"}),
        "card number as customer": body_of({**good, "customer_id": "4539578763621486"}),
        "short id": body_of({**good, "milestone_id": "x"}),
        "one id, two records": body_of(good, {**good, "customer_id": "cust-2"}),
        "not json": b"{milestones",
        "not an object": b"[]",
    }


def check_the_feed(gw: httpx.Client) -> None:
    for code, body, headers in refusals(gw):
        resp = gw.post(PATH, content=body, headers=headers)
        assert resp.status_code == 401, (code, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == code, resp.text
    for name, body in invalid_bodies().items():
        resp = gw.post(PATH, content=body, headers=signed(body))
        assert resp.status_code == 422, (name, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json"), name
    # the same batch again, with the same Idempotency-Key, replays the first answer
    body = body_of(milestone("first_transaction", "cust-idem"), milestone("aum_tier_upgraded", "cust-idem"))
    first = gw.post(PATH, content=body, headers={**signed(body), "Idempotency-Key": "cbs-batch-1"})
    again = gw.post(PATH, content=body, headers={**signed(body), "Idempotency-Key": "cbs-batch-1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    assert first.json()["accepted"] == 2 and first.headers["ratelimit-policy"].startswith("600;")


async def test_only_the_core_systems_fresh_signature_is_accepted(
    tmp_path: Path, conversion_nats: str
) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        gw = system.client()
        try:
            await asyncio.to_thread(check_the_feed, gw)
        finally:
            gw.close()


def test_production_refuses_the_demo_key_and_weak_keys(tmp_path: Path) -> None:
    store = open_store(redis_url="", sqlite_path=tmp_path / "edge.db")
    try:
        with pytest.raises(ValueError, match="real key"):
            CoreBanking(settings=CoreBankingSettings(), store=store, environment="production")
        strong = {"core-k1": base64.b64encode(b"k" * 32).decode()}
        CoreBanking(settings=CoreBankingSettings(keys=strong), store=store, environment="production")
        for weak in ({"core-k1": base64.b64encode(b"k" * 31).decode()}, {"core-k1": "not base64!"}, {}):
            with pytest.raises(ValidationError):
                CoreBankingSettings(keys=weak)
    finally:
        store.close()


async def test_the_feed_has_its_own_quota(
    tmp_path: Path, conversion_nats: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_BANKING_REQUESTS_PER_MINUTE", "3")
    async with running_system(tmp_path, conversion_nats) as system:
        gw = system.client()
        try:
            await asyncio.to_thread(spend_the_quota, gw)
        finally:
            gw.close()


def spend_the_quota(gw: httpx.Client) -> None:
    answers = []
    for _ in range(7):  # fixed windows: even across a window's end, 7 requests meet the limit of 3
        body = body_of(milestone("first_transaction", "cust-quota"))
        answers.append(gw.post(PATH, content=body, headers=signed(body)))
    assert [a.status_code for a in answers[:3]] == [202, 202, 202]
    refused = [a for a in answers if a.status_code != 202]
    assert refused and all(a.status_code == 429 for a in refused)
    assert refused[0].json()["code"] == "rate_limited" and int(refused[0].headers["retry-after"]) > 0
    # partners' quota is another one
    with actors.partner_client(gw, "ride") as ride:
        assert ride.request("GET", "/v1/partner/campaigns").status_code == 200
