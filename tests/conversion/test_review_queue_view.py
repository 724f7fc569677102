"""The review queue's view of a campaign (CAMPAIGN_VIEW_REVIEW_QUEUE): every field it carries is the full
message's, and it carries what the approvals inbox shows (the proposed name, authors, when)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.message import Message
from lattice.conversion.v1 import conversion_pb2 as pb

from services.conversion.grpc_convert import queued_to_pb, version_to_pb
from services.conversion.models import Campaign, CampaignVersion
from services.runtime.proto_mapping import to_proto

PROPOSED_AT = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)


def _campaign() -> Campaign:
    return Campaign(
        campaign_id="spring-rides",
        partner_id="ride",
        name="Spring rides",
        branch="shanghai",
        target_app_id="life",
        landing_url="https://life.bank.example/welcome",
        lookback_days=7,
        conversion_window_days=14,
        pending_version=2,
    )


def _fields_agree(part: Message, whole: Message, path: str = "") -> None:
    for field, value in part.ListFields():
        here = f"{path}.{field.name}"
        if field.message_type is not None and not field.is_repeated:
            _fields_agree(value, getattr(whole, field.name), here)
        else:
            assert value == getattr(whole, field.name), here


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"name": "Summer rides", "cpa_amount_minor": 900}, "Summer rides"),
        ({"status": "paused"}, "Spring rides"),
    ],
)
def test_the_queue_view_is_a_part_of_the_full_campaign(changes: dict[str, object], name: str) -> None:
    campaign = _campaign()
    version = CampaignVersion(
        campaign_id=campaign.campaign_id,
        version=2,
        kind="change",
        changes=changes,
        authors=["sh-operator", "sh-editor"],
        state="pending",
        proposed_at=PROPOSED_AT,
    )
    full = to_proto(pb.Campaign, campaign)
    full.pending.CopyFrom(version_to_pb(campaign, version))
    queued = queued_to_pb(campaign, version)
    _fields_agree(queued, full)
    assert queued.pending.proposed.name == name
    assert list(queued.pending.authors) == ["sh-operator", "sh-editor"]
    assert queued.pending.proposed_at.ToDatetime(tzinfo=UTC) == PROPOSED_AT
    assert (queued.branch, queued.pending_version) == ("shanghai", 2)
    assert queued.ByteSize() < full.ByteSize() / 2
