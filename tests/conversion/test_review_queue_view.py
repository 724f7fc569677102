"""The review queue's view of a campaign (CAMPAIGN_VIEW_REVIEW_QUEUE) read from conversion's database:
the same campaigns in the same order and pages as the full read, each field it carries equal to the
full message's (a pending change's proposed name included), in the branch's scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.message import Message
from lattice.conversion.v1 import conversion_pb2 as pb
from sqlalchemy.engine import Engine

from services.conversion import campaign_review
from services.conversion.campaigns import Staff, create_campaign
from services.conversion.config import ConversionSettings
from services.conversion.grpc_convert import queued_to_pb, version_to_pb
from services.conversion.models import Campaign, PartnerProfile
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, transaction
from services.runtime.proto_mapping import to_proto
from tests.support.databases import copy_migrated_sqlite

SETTINGS = ConversionSettings()
AUTHORS = {
    "": Staff(operator_id="hq-operator", role="operator", branch=""),
    "shanghai": Staff(operator_id="sh-operator", role="operator", branch="shanghai"),
}


def _campaign(campaign_id: str, name: str, branch: str) -> Campaign:
    return Campaign(
        campaign_id=campaign_id,
        partner_id="ride",
        name=name,
        branch=branch,
        target_app_id="life",
        landing_url="https://life.bank.example/welcome",
        lookback_days=0,
        conversion_window_days=0,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    copy_migrated_sqlite("conversion", tmp_path / "conversion.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'conversion.db'}")
    with transaction(engine) as session:
        session.add(PartnerProfile(partner_id="ride", name="Ride", registered_at=utcnow()))
    for i in range(7):
        branch = "shanghai" if i % 2 else ""
        draft = _campaign(f"rides-{i}", f"Rides {i}", branch)
        create_campaign(engine=engine, campaign=draft, actor=AUTHORS[branch], settings=SETTINGS)
    reviewer = Staff(operator_id="hq-reviewer", role="reviewer", branch="")
    campaign_review.review_campaign(
        engine=engine,
        campaign_id="rides-0",
        version=1,
        actor=reviewer,
        approve=True,
        note="live",
        settings=SETTINGS,
    )
    changed = _campaign("rides-0", "Summer rides", "")
    changed.cpa_amount_minor = 900
    campaign_review.update_campaign(
        engine=engine,
        changes=changed,
        mask=["name", "cpa_amount_minor"],
        actor=AUTHORS[""],
        settings=SETTINGS,
    )
    yield engine
    engine.dispose()


def _agree(part: Message, whole: Message, path: str = "") -> None:
    for field, value in part.ListFields():
        if field.message_type is not None and not field.is_repeated:
            _agree(value, getattr(whole, field.name), f"{path}.{field.name}")
        else:
            assert value == getattr(whole, field.name), f"{path}.{field.name}"


@pytest.mark.parametrize("branch", ["", "shanghai"])
@pytest.mark.parametrize("sort", ["", "proposed_at", "-proposed_at"])
def test_the_queue_view_pages_as_the_full_read_and_is_a_part_of_it(
    engine: Engine, branch: str, sort: str
) -> None:
    full_token = view_token = ""
    seen: dict[str, pb.Campaign] = {}
    while True:
        found, total = campaign_review.waiting_for_review(
            engine=engine, branch=branch, limit=3, after=full_token, sort=sort
        )
        rows, view_total = campaign_review.queued_for_review(
            engine=engine, branch=branch, limit=3, after=view_token, sort=sort
        )
        assert view_total == total == (3 if branch else 7)
        assert len(rows) == len(found)
        for (campaign, version), row in zip(found[:2], rows[:2], strict=True):
            full = to_proto(pb.Campaign, campaign)
            full.pending.CopyFrom(version_to_pb(campaign, version))
            queued = queued_to_pb(row)
            _agree(queued, full)
            assert queued.pending.proposed.name and list(queued.pending.authors)
            assert queued.ByteSize() < full.ByteSize() / 2
            seen[queued.campaign_id] = queued
        if len(found) <= 2:
            break
        full_token = campaign_review.PENDING_ORDER.token(found[1][1], sort=sort)
        view_token = campaign_review.PENDING_ORDER.token(rows[1], sort=sort)
        assert view_token == full_token
    assert len(seen) == total
    assert all(q.branch == branch for q in seen.values()) or not branch  # head office sees all
    if not branch:  # a change joined the pending draft: the queue shows the name it proposes
        live = seen["rides-0"]  # live under its old name, a new one proposed
        assert (live.name, live.pending.proposed.name, live.pending_version) == ("Rides 0", "Summer rides", 2)
