"""Request and response bodies of the conversion routes; responses are filled by from_proto."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from lattice.conversion.v1 import conversion_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from gateway.paging import Page
from services.runtime.proto_mapping import from_proto

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
Scene = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,40}$")]
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Milestone = Literal["linked", "activated", "upgraded"]
Landing = Annotated[str, Field(min_length=1, max_length=500)]
# Commission in minor units: a JSON integer only (no true, "100" or 1e2).
MinorUnits = Annotated[StrictInt, Field(ge=0, le=10**9)]


class Strict(BaseModel):
    """A request body: unknown fields refused, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


class CampaignCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": "ride-spring",
                    "partner_id": "ride",
                    "name": "Ride spring referral",
                    "target_app_id": "mbank",
                    "landing_url": "https://www.bank.example/open-account",
                    "lookback_days": 7,
                    "conversion_window_days": 14,
                    "cpa_amount_minor": 2000,
                    "currency": "CNY",
                    "commission_milestone": "activated",
                    "postback_milestones": ["linked", "activated"],
                }
            ]
        }
    )
    campaign_id: Slug
    partner_id: Slug
    name: str = Field(min_length=1, max_length=100)
    branch: Slug | None = None
    target_app_id: Slug
    landing_url: Landing
    lookback_days: int = Field(default=7, ge=1, le=90)
    conversion_window_days: int = Field(default=14, ge=1, le=90)
    cpa_amount_minor: MinorUnits = 0
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    commission_milestone: Milestone = "activated"
    postback_milestones: list[Milestone] = Field(default_factory=list, max_length=3)


class CampaignUpdate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "paused"}]})
    name: str | None = Field(default=None, min_length=1, max_length=100)
    target_app_id: Slug | None = None
    landing_url: Landing | None = None
    lookback_days: int | None = Field(default=None, ge=1, le=90)
    conversion_window_days: int | None = Field(default=None, ge=1, le=90)
    cpa_amount_minor: MinorUnits | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    commission_milestone: Milestone | None = None
    postback_milestones: list[Milestone] | None = Field(default=None, max_length=3)
    status: Literal["active", "paused", "ended"] | None = None


class CampaignVersionPublic(BaseModel):
    version: int
    kind: str
    fields: list[str]
    proposed: dict[str, object]
    authors: list[str]
    state: str
    proposed_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    note: str


class CampaignPublic(BaseModel):
    campaign_id: str
    partner_id: str
    name: str
    branch: str | None
    target_app_id: str
    landing_url: str
    lookback_days: int
    conversion_window_days: int
    cpa_amount_minor: int
    currency: str
    commission_milestone: str
    postback_milestones: list[str]
    status: str
    review_state: Literal["pending_review", "approved", "rejected"]
    approved_by: str | None = None
    pending: CampaignVersionPublic | None = Field(
        default=None, description="the change waiting for review (operators only)"
    )


class CampaignReview(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"version": 2, "approve": True, "note": "commission agreed with the partner"}]
        }
    )
    version: StrictInt = Field(ge=1, le=2**31 - 1, description="the pending version that was read")
    approve: bool
    note: str = Field(default="", max_length=500)


class LinkRecord(BaseModel):
    link_id: str
    campaign_id: str
    scene: str
    url: str
    expires_at: datetime | None
    created_at: datetime | None


class LinkPage(Page[LinkRecord]):
    """One page of links, by id."""


class CampaignPage(Page[CampaignPublic]):
    """One page of campaigns."""


class LinkCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"campaign_id": "ride-spring", "scene": "airport", "ttl_days": 14}]}
    )
    campaign_id: Slug
    scene: Scene = "default"
    ttl_days: int = Field(default=30, ge=1, le=365)


class LinkPublic(BaseModel):
    link_id: str
    code: str
    url: str
    expires_at: datetime


class LinkKeyRotated(BaseModel):
    key_id: str
    previous_key_valid_until: datetime | None


class PostbackEndpointSet(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"url": "https://partner.example/lattice/postbacks", "rotate_secret": False}]
        }
    )
    url: str = Field(min_length=1, max_length=500)
    rotate_secret: bool = False


class PostbackEndpointPublic(BaseModel):
    partner_id: str
    url: str
    secret: str | None = Field(default=None, description="whsec_ secret; shown only when created or rotated")


class PostbackDeliveryPublic(BaseModel):
    delivery_id: str
    type: str  # conversion.milestone.reached (a postback) | binding.withdrawn (a notification)
    partner_id: str
    campaign_id: str
    milestone: str
    status: str
    attempts: int
    last_status_code: int
    last_error: str


class LinkKeyRotation(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap_days": 30}]})
    overlap_days: int = Field(default=30, ge=0, le=365)


class FunnelCounts(BaseModel):
    clicks: int
    views: int
    rejected: int
    flooded: int
    landings: int
    linked: int
    acquired: int
    re_engaged: int
    activated: int
    upgraded: int


class FunnelRow(BaseModel):
    day: str
    campaign_id: str
    counts: FunnelCounts


class FunnelReport(BaseModel):
    partner_id: str
    from_day: str
    to_day: str
    mode: Literal["ordered"] = "ordered"
    rows: list[FunnelRow]
    totals: FunnelCounts
    rates: dict[str, float]
    commission_due_minor: int
    currency: str | None


def report_public(
    resp: pb.GetFunnelReportResponse, *, partner_id: str, from_day: str, to_day: str
) -> FunnelReport:
    # the reply does not repeat what was asked: the partner and the days come from the request
    return from_proto(FunnelReport, resp, partner_id=partner_id, from_day=from_day, to_day=to_day)


def version_public(v: pb.CampaignVersion) -> CampaignVersionPublic:
    # the HTTP version shows only the fields it changes, read from the whole proposed campaign
    proposed = campaign_public(v.proposed)
    return from_proto(CampaignVersionPublic, v, proposed={name: getattr(proposed, name) for name in v.fields})


def campaign_public(c: pb.Campaign) -> CampaignPublic:
    return from_proto(
        CampaignPublic,
        c,
        # campaigns kept from before reviews carry no review state: they read as pending review
        review_state=c.review_state or "pending_review",
        # the pending version's `proposed` is shaped by version_public
        pending=version_public(c.pending) if c.HasField("pending") else None,
    )


class CampaignVersionPage(Page[CampaignVersionPublic]):
    """One page of a campaign's versions, oldest first."""


class PostbackDeliveryPage(Page[PostbackDeliveryPublic]):
    """One page of postback deliveries, newest first."""
