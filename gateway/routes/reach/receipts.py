"""`POST /v1/providers/{channel}/receipts`: SMS, push and partner-channel providers report delivery.

Each provider signs its callbacks as Standard Webhooks (webhook-id, webhook-timestamp within five
minutes, HMAC-SHA256 `v1,` signature over "<id>.<timestamp>.<body>") with a secret of its channel,
the same scheme conversion uses for partners' postbacks, so providers need no Lattice-specific code.
A webhook-id is accepted once; a receipt for a message of another channel is unknown.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from lattice.reach.v1 import reach_pb2 as pb
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from standardwebhooks import Webhook

from gateway.clients import ClientsDep
from gateway.openapi_marks import documents
from gateway.problems import Problem
from services.runtime.proto_mapping import to_proto

router = APIRouter(prefix="/v1/providers", tags=["reach"])
Channel = Literal["push", "sms", "partner"]
# Demo secrets of `make run` and the tests; refused when ENVIRONMENT=production.
DEMO_SECRETS: dict[Channel, list[str]] = {
    "push": ["whsec_bGF0dGljZS1kZW1vLXB1c2gtcmVjZWlwdHMta2V5LTAx"],
    "sms": ["whsec_bGF0dGljZS1kZW1vLXNtcy1yZWNlaXB0cy1rZXktMDE="],
    "partner": ["whsec_bGF0dGljZS1kZW1vLXBhcnRuZXItcmVjZWlwdHMta2V5LTAx"],
}
REPLAY_TTL_S = 900  # longer than the five minutes either side a signature's timestamp is accepted
Ref = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9_-]+$")]


class ProviderReceiptSettings(BaseSettings):
    """PROVIDER_RECEIPT_SECRETS: per channel, its provider's signing secrets (two during a rotation)."""

    model_config = SettingsConfigDict(env_prefix="PROVIDER_RECEIPT_", env_file=".env", extra="ignore")

    # per channel (`push`, `sms`, `partner`) the provider's Standard Webhooks secrets (`whsec_...`, two
    # during a rotation) that sign its delivery receipts to `POST /v1/providers/{channel}/receipts`
    secrets: dict[Channel, list[str]] = DEMO_SECRETS


class ProviderReceipts:
    """Verifiers per channel, made when the gateway starts; demo secrets are refused in production."""

    def __init__(self, *, settings: ProviderReceiptSettings, environment: str) -> None:
        demo = {s for secrets in DEMO_SECRETS.values() for s in secrets}
        configured = {s for secrets in settings.secrets.values() for s in secrets}
        if environment == "production" and configured & demo:
            raise ValueError("PROVIDER_RECEIPT_SECRETS must hold the providers' real secrets in production")
        self.verifiers = {
            channel: [Webhook(s) for s in secrets] for channel, secrets in settings.secrets.items()
        }


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_id: Ref
    status: Literal["delivered", "failed"]
    reason: Annotated[str, Field(max_length=40, pattern=r"^[a-z0-9_]*$")] = ""
    occurred_at: AwareDatetime


class ReceiptBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "receipts": [
                        {
                            "delivery_id": "dlv_7f3a9c",
                            "status": "delivered",
                            "occurred_at": "2027-03-02T10:16:00+08:00",
                        }
                    ]
                }
            ]
        },
    )

    receipts: list[ReceiptCreate] = Field(min_length=1, max_length=500)


class ReceiptsRecorded(BaseModel):
    applied: int
    unchanged: int
    unknown: int


@documents(401, 409, 429, security=[("webhook_id", "webhook_timestamp", "webhook_signature")])
async def signed_by_provider(request: Request, channel: Annotated[Channel, Path()]) -> str:
    """The channel whose provider signed exactly this body, now, with a webhook-id not seen before."""
    body = await request.body()
    headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
    if not {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers.keys():
        raise Problem(401, "signature_missing", "receipts need the webhook-* headers")
    if len(headers["webhook-id"]) > 64 or len(headers["webhook-signature"]) > 1024:
        raise Problem(401, "signature_malformed", "the webhook headers are too long")
    verifiers = request.app.state.provider_receipts.verifiers.get(channel, [])
    if not any(_verified(v, body, headers) for v in verifiers):
        raise Problem(401, "signature_invalid", "the signature does not match this channel's provider")
    edge = request.app.state.edge
    await edge.rate_limits.admit_request(request, group="partner", consumer=f"provider:{channel}")
    replay_key = f"provider-receipt:{channel}:{headers['webhook-id']}"
    if not await asyncio.to_thread(edge.store.claim_once, replay_key, ttl_s=REPLAY_TTL_S):
        raise Problem(409, "receipt_replayed", "this webhook-id was already received")
    return channel


def _verified(verifier: Webhook, body: bytes, headers: dict[str, str]) -> bool:
    try:
        verifier.verify(body, headers, json_parse=False)
    except Exception:  # the library raises several types on malformed headers: all mean "not signed"
        return False
    return True


@router.post(
    "/{channel}/receipts",
    operation_id="record_delivery_receipts",
    summary="Record a provider's delivery receipts",
    response_model=ReceiptsRecorded,
    responses={401: {"description": "unsigned or badly signed"}, 409: {"description": "replayed"}},
)
async def record_receipts(
    body: ReceiptBatch,
    clients: ClientsDep,
    channel: Annotated[str, Depends(signed_by_provider)],
) -> ReceiptsRecorded:
    """A provider's delivery receipts: messages it accepted become delivered or failed (once)."""
    resp = await clients.reach.RecordReceipts(to_proto(pb.RecordReceiptsRequest, body, channel=channel))
    return ReceiptsRecorded(applied=resp.applied, unchanged=resp.unchanged, unknown=resp.unknown)
