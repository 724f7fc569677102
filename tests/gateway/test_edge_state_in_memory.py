"""The embedded default keeps nonces in the gateway's memory: what a restart forgets is refused."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from gateway.policies.store import open_store
from gateway.policies.tokens import ended_session_key
from tests.gateway.conftest import PARTNER_SECRET, running_gateway
from tools.partner_client import PartnerSigner, encode_request


async def test_a_request_signed_before_the_gateway_started_is_refused(tmp_path: Path, nats_url: str) -> None:
    signer = PartnerSigner(partner_id="ride", key_id="k1", secret=PARTNER_SECRET)
    async with running_gateway(tmp_path, nats_url) as gw, httpx.AsyncClient() as http:
        assert gw.settings.edge_store_kind() == "memory"
        started = int(gw.app.state.edge.store.started_at)

        async def send(timestamp: int) -> httpx.Response:
            target, body, headers = encode_request("/v1/partner/probe/transfers", json_body={"amount": 1})
            signed = signer.headers(method="POST", url=gw.url + target, body=body, timestamp=timestamp)
            return await http.post(gw.url + target, content=body, headers={**headers, **signed})

        before = await send(started - 2)  # inside the window, but its nonce may predate this process
        assert (before.status_code, before.json()["code"]) == (401, "signature_expired")
        now = await send(max(started, int(time.time())))
        assert now.status_code == 201, now.text


def test_identity_marks_outlive_the_process_and_nonces_do_not(tmp_path: Path) -> None:
    """Ended sessions and revoked keys are in the file (read back at start); nonces were in memory."""
    first = open_store(redis_url="", sqlite_path=tmp_path / "edge.db", memory=True)
    assert first.claim_once(ended_session_key("s-1"), ttl_s=600)
    assert first.claim_once("nonce:ride:abc", ttl_s=600)
    assert first.is_claimed(ended_session_key("s-1")) and not first.is_claimed(ended_session_key("s-2"))
    first.close()
    restarted = open_store(redis_url="", sqlite_path=tmp_path / "edge.db", memory=True)
    try:
        assert restarted.is_claimed(ended_session_key("s-1"))
        assert restarted.claim_once("nonce:ride:abc", ttl_s=600)  # hence the start-time rule above
    finally:
        restarted.close()
