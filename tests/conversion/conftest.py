"""Conversion in-process (real gRPC server, SQLite file, its own NATS), a publisher, and helpers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from lattice.common.v1 import app_event_pb2, core_milestone_pb2
from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import conversion_pb2_grpc, events_pb2
from lattice.identity.v1 import events_pb2 as identity_events

from services.conversion.__main__ import wire
from services.runtime.bus import Bus
from services.runtime.clock import to_timestamp
from services.runtime.service import RunningService
from tests.support.inprocess import serve
from tools.stack import Stack, StackConfig

T = TypeVar("T")
AUTHOR = pb.Actor(kind="operator", operator_id="test-author", role="operator")
REVIEWER = pb.Actor(kind="operator", operator_id="test-reviewer", role="reviewer")


@pytest.fixture(scope="module")
def conversion_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS server of this test module's own, so durable consumers start from a clean stream."""
    stack = Stack(StackConfig.ephemeral(tmp_path_factory.mktemp("conversion-nats")))
    stack.start_nats()
    try:
        yield stack.config.nats_url
    finally:
        stack.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def eventually(probe: Callable[[], Awaitable[T]], *, timeout: float = 10.0) -> T:
    """The probe's result once it stops raising AssertionError (or the last error after `timeout`)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await probe()
        except (AssertionError, grpc.aio.AioRpcError):
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)


@dataclass
class Conversion:
    """The running service, its stub, and a bus to publish what identity, apps and the gateway publish."""

    service: RunningService
    stub: conversion_pb2_grpc.ConversionServiceStub
    bus: Bus

    async def publish(self, subject: str, message: Message, event_id: str | None = None) -> None:
        await self.bus.publish(
            subject,
            message.SerializeToString(),
            event_id=event_id or uuid.uuid4().hex,
            event_type=message.DESCRIPTOR.full_name,
        )

    async def partner(self, partner_id: str) -> None:
        """identity.partner.registered, then wait for conversion's projection."""
        await self.publish(
            "identity.partner.registered",
            identity_events.PartnerRegistered(partner_id=partner_id, name=partner_id.title(), sector="test"),
        )
        await eventually(
            lambda: self.stub.GetPartnerProfile(pb.GetPartnerProfileRequest(partner_id=partner_id))
        )

    async def campaign(self, partner_id: str, *, approve: bool = True, **fields: Any) -> str:
        """A campaign drafted by test-author and (unless told otherwise) approved by test-reviewer."""
        campaign_id = fields.pop("campaign_id", None) or unique("c")
        campaign = pb.Campaign(
            campaign_id=campaign_id,
            partner_id=partner_id,
            name=f"Campaign {campaign_id}",
            target_app_id="life",
            landing_url="https://life.bank.example/welcome?src=partner",
            **fields,
        )
        created = await self.stub.CreateCampaign(pb.CreateCampaignRequest(campaign=campaign, actor=AUTHOR))
        if approve:
            await self.stub.ReviewCampaign(
                pb.ReviewCampaignRequest(
                    campaign_id=campaign_id,
                    version=created.campaign.pending_version,
                    approve=True,
                    actor=REVIEWER,
                )
            )
        return campaign_id

    async def click(
        self,
        *,
        partner_id: str,
        campaign_id: str,
        at: datetime,
        device_id: str = "",
        interaction: str = "click",
    ) -> str:
        """A click as the gateway publishes it."""
        click_id = uuid.uuid4().hex
        event = events_pb2.ClickRecorded(
            click_id=click_id,
            link_code="L" + click_id[:9],
            partner_id=partner_id,
            campaign_id=campaign_id,
            scene="home",
            device_id=device_id or uuid.uuid4().hex,
            attributable=True,
            occurred_at=to_timestamp(at),
            ip_class="ipc-" + click_id[:6],
            interaction=interaction,
        )
        await self.publish("conversion.click.recorded", event, event_id=click_id)
        return click_id

    async def landing(
        self, *, click_id: str, at: datetime, app_id: str = "life", customer_id: str = ""
    ) -> None:
        await self.app_event(
            "landing_viewed", customer_id=customer_id, app_id=app_id, at=at, click_id=click_id
        )

    async def linked(
        self,
        *,
        customer_id: str,
        at: datetime,
        click_id: str = "",
        new_customer: bool = True,
        app_id: str = "life",
    ) -> None:
        """identity.app_account.linked as identity publishes it on a sign-in."""
        event = identity_events.AppAccountLinked(
            customer_id=customer_id,
            app_id=app_id,
            new_customer=new_customer,
            occurred_at=to_timestamp(at),
            click_id=click_id,
        )
        await self.publish("identity.app_account.linked", event)

    async def app_event(
        self,
        kind: str,
        *,
        customer_id: str,
        app_id: str,
        at: datetime,
        click_id: str = "",
        device_id: str = "",
    ) -> None:
        event = app_event_pb2.AppEvent(
            event_id=uuid.uuid4().hex,
            customer_id=customer_id,
            app_id=app_id,
            type=kind,
            occurred_at=to_timestamp(at),
            device_id=device_id,
            click_id=click_id,
        )
        await self.publish(f"app.event.{kind}", event, event_id=event.event_id)

    async def core_milestone(
        self, kind: str, *, customer_id: str, at: datetime, milestone_id: str = "", tier: str = ""
    ) -> str:
        """core.milestone.recorded as the gateway publishes the core banking feed; returns its id."""
        event = core_milestone_pb2.CoreMilestoneRecorded(
            milestone_id=milestone_id or unique("cbs"),
            kind=kind,
            customer_id=customer_id,
            occurred_at=to_timestamp(at),
            tier=tier or ("affluent" if kind == "aum_tier_upgraded" else ""),
            system_id="core",
        )
        await self.publish("core.milestone.recorded", event, event_id=event.milestone_id)
        return event.milestone_id

    async def report(
        self, partner_id: str, campaign_id: str = "", *, days: tuple[datetime, datetime]
    ) -> pb.GetFunnelReportResponse:
        return await self.stub.GetFunnelReport(
            pb.GetFunnelReportRequest(
                partner_id=partner_id,
                campaign_id=campaign_id,
                from_day=days[0].date().isoformat(),
                to_day=days[1].date().isoformat(),
            )
        )


@asynccontextmanager
async def running_conversion(
    tmp_path: Path, nats_url: str, env: dict[str, str] | None = None, **settings: object
) -> AsyncIterator[Conversion]:
    """Conversion in-process with CONVERSION_* settings from `env` (read when it is wired)."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        async with serve("conversion", wire, tmp_path=tmp_path, nats_url=nats_url, **settings) as (
            svc,
            channel,
        ):
            bus = await Bus.connect(nats_url, name="conversion-test")
            try:
                yield Conversion(svc, conversion_pb2_grpc.ConversionServiceStub(channel), bus)
            finally:
                await bus.close()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def days_around(at: datetime, before: int = 40, after: int = 1) -> tuple[datetime, datetime]:
    return at - timedelta(days=before), at + timedelta(days=after)
