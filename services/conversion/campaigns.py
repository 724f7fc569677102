"""Campaigns and partners' postback endpoints: the operators' side of conversion."""

from __future__ import annotations

import base64
import re
import secrets

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign, PartnerProfile, PostbackEndpoint
from services.runtime.ssrf import check_postback_url
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import AlreadyExists, InvalidInput, NotFound

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
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
_APP_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{1,20}://\S+$")
_UNSAFE_SCHEMES = ("javascript", "data", "file", "vbscript", "http", "blob", "about")


def _check_slug(value: str, what: str) -> None:
    if not _SLUG.match(value):
        raise InvalidInput(f"invalid_{what}", f"{what} must be 2-40 lowercase letters, digits, '-' or '_'")


def check_landing_url(url: str) -> None:
    """Landings are https pages or app deep links; never script, data or plain-http URLs."""
    scheme = url.split(":", 1)[0].lower()
    if len(url) > 500 or not _APP_SCHEME.match(url) or scheme in _UNSAFE_SCHEMES:
        raise InvalidInput("invalid_landing_url", "the landing must be an https URL or an app deep link")


def _validate(campaign: Campaign) -> None:
    _check_slug(campaign.campaign_id, "campaign_id")
    _check_slug(campaign.target_app_id, "target_app_id")
    if campaign.branch:
        _check_slug(campaign.branch, "branch")
    if not campaign.name.strip() or len(campaign.name) > 100:
        raise InvalidInput("invalid_name", "name must be 1-100 characters")
    check_landing_url(campaign.landing_url)
    for what in ("lookback_days", "conversion_window_days"):
        if not 1 <= getattr(campaign, what) <= MAX_DAYS:
            raise InvalidInput(f"invalid_{what}", f"{what} must be 1-{MAX_DAYS}")
    if campaign.cpa_amount_minor < 0 or not re.fullmatch(r"[A-Z]{3}", campaign.currency):
        raise InvalidInput("invalid_commission", "the CPA must be >= 0 in a 3-letter currency")
    if campaign.commission_milestone not in MILESTONES or not set(campaign.postback_milestones) <= set(
        MILESTONES
    ):
        raise InvalidInput("invalid_milestone", f"milestones are {', '.join(MILESTONES)}")
    if campaign.status not in STATUSES:
        raise InvalidInput("invalid_status", f"status must be one of {', '.join(STATUSES)}")


def _require_partner(session: Session, partner_id: str) -> None:
    if session.get(PartnerProfile, partner_id) is None:
        raise NotFound("partner_not_found", f"conversion knows no partner {partner_id}")


def create_campaign(*, engine: Engine, campaign: Campaign, settings: ConversionSettings) -> Campaign:
    """Create a campaign for a registered partner (defaults: 7-day lookback, 14-day window)."""
    campaign.lookback_days = campaign.lookback_days or settings.default_lookback_days
    campaign.conversion_window_days = campaign.conversion_window_days or settings.default_window_days
    campaign.status = campaign.status or "active"
    campaign.currency = campaign.currency or "CNY"
    campaign.commission_milestone = campaign.commission_milestone or "activated"
    _validate(campaign)
    with transaction(engine) as session:
        _require_partner(session, campaign.partner_id)
        if session.get(Campaign, campaign.campaign_id) is not None:
            raise AlreadyExists("campaign_exists", f"campaign {campaign.campaign_id} already exists")
        session.add(campaign)
    return campaign


def update_campaign(*, engine: Engine, changes: Campaign, mask: list[str]) -> Campaign:
    """Change the fields named in `mask`."""
    unknown = set(mask) - set(UPDATABLE)
    if not mask or unknown:
        raise InvalidInput("invalid_update_mask", f"updatable fields: {', '.join(UPDATABLE)}")
    with transaction(engine) as session:
        campaign = session.get(Campaign, changes.campaign_id)
        if campaign is None:
            raise NotFound("campaign_not_found", f"no campaign {changes.campaign_id}")
        for name in mask:
            setattr(campaign, name, getattr(changes, name))
        _validate(campaign)
        campaign.updated_at = utcnow()
        session.add(campaign)
    return campaign


def get_campaign(*, engine: Engine, campaign_id: str) -> Campaign:
    with read_session(engine) as session:
        campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign_not_found", f"no campaign {campaign_id}")
    return campaign


def list_campaigns(*, engine: Engine, partner_id: str, branch: str, limit: int, after: str) -> list[Campaign]:
    """Campaigns by id; a branch sees its own campaigns and head office's."""
    with read_session(engine) as session:
        stmt = select(Campaign).where(col(Campaign.campaign_id) > after)
        if partner_id:
            stmt = stmt.where(col(Campaign.partner_id) == partner_id)
        if branch:
            stmt = stmt.where(or_(col(Campaign.branch) == branch, col(Campaign.branch) == ""))
        return list(session.exec(stmt.order_by(col(Campaign.campaign_id)).limit(limit)))


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
