"""Campaigns and partners' postback endpoints: the operators' side of conversion (review: campaign_review)."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign, CampaignVersion, PartnerProfile, PostbackEndpoint
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import AlreadyExists, Forbidden, InvalidInput, NotFound
from services.runtime.sorting import Sortable
from services.runtime.ssrf import check_postback_url

MILESTONES = ("linked", "activated", "upgraded")
STATUSES = ("active", "paused", "ended")
UPDATABLE = (
    "name",
    "target_app_id",
    "landing_url",
    "lookback_days",
    "conversion_window_days",
    "cpa_amount_minor",
    "currency",
    "commission_milestone",
    "postback_milestones",
    "status",
)
MAX_DAYS = 90
MAX_CPA_MINOR = 10**9
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


ROLES = ("viewer", "operator", "reviewer", "admin")


@dataclass(frozen=True)
class Staff:
    """The operator acting (as the gateway asserted it): id, role, branch ("" = head office)."""

    operator_id: str
    role: str
    branch: str

    def require(self, role: str) -> None:
        if not _SLUG.match(self.operator_id) or self.role not in ROLES:
            raise InvalidInput("actor_required", "a campaign is changed by an operator with a role")
        if ROLES.index(self.role) < ROLES.index(role):
            raise Forbidden("insufficient_role", f"this needs the {role} role")

    def reaches(self, campaign: Campaign) -> bool:
        """Head office reaches every campaign; a branch only its own."""
        return not self.branch or campaign.branch == self.branch


def _check_slug(value: str, what: str) -> None:
    if not _SLUG.match(value):
        raise InvalidInput(f"invalid_{what}", f"{what} must be 2-40 lowercase letters, digits, '-' or '_'")


def validate(campaign: Campaign, *, settings: ConversionSettings) -> None:
    """Raise InvalidInput unless every field of `campaign` is acceptable."""
    _check_slug(campaign.campaign_id, "campaign_id")
    _check_slug(campaign.target_app_id, "target_app_id")
    if campaign.branch:
        _check_slug(campaign.branch, "branch")
    if not campaign.name.strip() or len(campaign.name) > 100:
        raise InvalidInput("invalid_name", "name must be 1-100 characters")
    settings.check_landing(campaign.landing_url)
    for what in ("lookback_days", "conversion_window_days"):
        if not 1 <= getattr(campaign, what) <= MAX_DAYS:
            raise InvalidInput(f"invalid_{what}", f"{what} must be 1-{MAX_DAYS}")
    if not 0 <= campaign.cpa_amount_minor <= MAX_CPA_MINOR or not re.fullmatch(
        r"[A-Z]{3}", campaign.currency
    ):
        raise InvalidInput("invalid_commission", "the CPA must be 0-10^9 minor units in a 3-letter currency")
    if campaign.commission_milestone not in MILESTONES or not set(campaign.postback_milestones) <= set(
        MILESTONES
    ):
        raise InvalidInput("invalid_milestone", f"milestones are {', '.join(MILESTONES)}")
    if campaign.status not in STATUSES:
        raise InvalidInput("invalid_status", f"status must be one of {', '.join(STATUSES)}")


def _require_partner(session: Session, partner_id: str) -> None:
    if session.get(PartnerProfile, partner_id) is None:
        raise NotFound("partner_not_found", f"conversion knows no partner {partner_id}")


def terms(campaign: Campaign) -> dict[str, Any]:
    """The reviewed fields of a campaign, as a version records them."""
    return {name: getattr(campaign, name) for name in UPDATABLE if name != "status"}


def create_campaign(
    *, engine: Engine, campaign: Campaign, actor: Staff, settings: ConversionSettings
) -> Campaign:
    """Draft a campaign for a registered partner; it goes live once another operator approves it."""
    actor.require("operator")
    if not actor.reaches(campaign):
        raise Forbidden("branch_scope", "branch staff draft campaigns of their own branch")
    campaign.created_by = actor.operator_id
    campaign.lookback_days = campaign.lookback_days or settings.default_lookback_days
    campaign.conversion_window_days = campaign.conversion_window_days or settings.default_window_days
    campaign.status = campaign.status or "active"
    campaign.currency = campaign.currency or "CNY"
    campaign.commission_milestone = campaign.commission_milestone or "activated"
    validate(campaign, settings=settings)
    campaign.review_state, campaign.approved_by, campaign.approved_at = "pending_review", "", None
    campaign.pending_version = 1
    with transaction(engine) as session:
        _require_partner(session, campaign.partner_id)
        if session.get(Campaign, campaign.campaign_id) is not None:
            raise AlreadyExists("campaign_exists", f"campaign {campaign.campaign_id} already exists")
        session.add(campaign)
        session.add(
            CampaignVersion(
                campaign_id=campaign.campaign_id,
                version=1,
                kind="create",
                changes=terms(campaign),
                authors=[campaign.created_by],
                state="pending",
            )
        )
    return campaign


def get_campaign(*, engine: Engine, campaign_id: str, partner_id: str = "", branch: str = "") -> Campaign:
    """A campaign; a partner's own approved one, or a branch's own (others are not found)."""
    with read_session(engine) as session:
        campaign = session.get(Campaign, campaign_id)
    if (
        campaign is None
        or (branch and campaign.branch != branch)
        or (partner_id and (campaign.partner_id != partner_id or campaign.review_state != "approved"))
    ):
        raise NotFound("campaign_not_found", f"no campaign {campaign_id}")
    return campaign


CAMPAIGN_ORDER = Sortable.of(Campaign, "campaign_id", "name", "partner_id", "status", "created_at")


def list_campaigns(
    *,
    engine: Engine,
    partner_id: str,
    branch: str,
    approved_only: bool,
    limit: int,
    after: str,
    sort: str = "",
) -> list[Campaign]:
    """Campaigns by id or by `sort` (CAMPAIGN_ORDER); a branch reads only its own campaigns."""
    with read_session(engine) as session:
        stmt = CAMPAIGN_ORDER.apply(select(Campaign), sort=sort, token=after)
        if partner_id:
            stmt = stmt.where(col(Campaign.partner_id) == partner_id)
        if branch:
            stmt = stmt.where(col(Campaign.branch) == branch)
        if approved_only:
            stmt = stmt.where(col(Campaign.review_state) == "approved")
        return list(session.exec(stmt.limit(limit)))


def set_postback_endpoint(
    *, engine: Engine, partner_id: str, url: str, rotate_secret: bool, settings: ConversionSettings
) -> tuple[PostbackEndpoint, str]:
    """Register (or change) a partner's postback URL after the SSRF check; the secret when new."""
    check_postback_url(url, allowlist=settings.postback_allowlist)
    with transaction(engine) as session:
        _require_partner(session, partner_id)
        endpoint = session.get(PostbackEndpoint, partner_id)
        new_secret = ""
        if endpoint is None or rotate_secret:
            new_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        if endpoint is None:
            endpoint = PostbackEndpoint(partner_id=partner_id, url=url, secret=new_secret)
        endpoint.url = url
        endpoint.secret = new_secret or endpoint.secret
        endpoint.updated_at = utcnow()
        session.add(endpoint)
    return endpoint, new_secret
