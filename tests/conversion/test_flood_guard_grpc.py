"""The click-flood guard: excess clicks per device or IP class are flagged and not attributed."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from lattice.conversion.v1 import conversion_pb2 as pb

from services.runtime.clock import utcnow
from tests.conversion.conftest import days_around, eventually, running_conversion, unique


@pytest.mark.parametrize(("mode", "attributed"), [("enforce", 3), ("report_only", 5)])
async def test_a_flooding_partner_is_flagged_and_its_excess_clicks_are_not_attributed(
    mode: str, attributed: int, tmp_path: Path, conversion_nats: str
) -> None:
    env = {
        "CONVERSION_FLOOD_MAX_CLICKS": "3",
        "CONVERSION_FLOOD_WINDOW_S": "60",
        "CONVERSION_FLOOD_GUARD_MODE": mode,
    }
    async with running_conversion(tmp_path, conversion_nats, env) as conv:
        flooder, honest = unique("flood"), unique("honest")
        await conv.partner(flooder)
        await conv.partner(honest)
        campaign = await conv.campaign(flooder)
        other = await conv.campaign(honest)
        now = utcnow()
        device = uuid.uuid4().hex
        for i in range(5):
            await conv.click(
                partner_id=flooder, campaign_id=campaign, at=now + timedelta(seconds=i), device_id=device
            )
        # the same number of clicks spread over minutes is not a flood
        for i in range(5):
            await conv.click(
                partner_id=honest, campaign_id=other, at=now + timedelta(minutes=2 * i), device_id=device
            )

        async def counted() -> None:
            flood = (await conv.report(flooder, days=days_around(now))).totals
            assert (flood.clicks, flood.flooded) == (attributed, 2)
            calm = (await conv.report(honest, days=days_around(now))).totals
            assert (calm.clicks, calm.flooded) == (5, 0)

        await eventually(counted)
        profile = (await conv.stub.GetPartnerProfile(pb.GetPartnerProfileRequest(partner_id=flooder))).partner
        assert profile.flood_flagged_at.seconds > 0 and profile.flood_clicks == 2
        calm_profile = (
            await conv.stub.GetPartnerProfile(pb.GetPartnerProfileRequest(partner_id=honest))
        ).partner
        assert calm_profile.flood_clicks == 0
