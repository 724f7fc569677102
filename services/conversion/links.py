"""Link signing keys (rotation with overlap) and the signed links issued to partners."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from services.conversion.config import ConversionSettings
from services.conversion.models import Campaign, CampaignLink, LinkSigningKey
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import Conflict, InvalidInput, NotFound, Rejected
from services.runtime.link_codec import LinkClaims, new_link_id, sign_link
from services.runtime.paging import read_page

_SCENE = re.compile(r"^[a-z0-9_-]{1,40}$")


def _new_key(session: Session) -> LinkSigningKey:
    key = LinkSigningKey(key_id="k" + secrets.token_hex(3), secret=secrets.token_bytes(32))
    session.add(key)
    return key


def _current_key(session: Session) -> LinkSigningKey:
    stmt = select(LinkSigningKey).where(col(LinkSigningKey.not_after).is_(None))
    key = session.exec(stmt.order_by(col(LinkSigningKey.created_at).desc())).first()
    return key or _new_key(session)


def list_keys(*, engine: Engine, now: datetime) -> list[LinkSigningKey]:
    """Keys that still verify links: the current one and those inside their overlap."""
    stmt = select(LinkSigningKey).where(
        or_(col(LinkSigningKey.not_after).is_(None), col(LinkSigningKey.not_after) > now)
    )
    with read_session(engine) as session:
        keys = list(session.exec(stmt.order_by(col(LinkSigningKey.created_at))))
    if not any(k.not_after is None for k in keys):
        with transaction(engine) as session:
            keys.append(_current_key(session))
    return keys


def rotate_key(*, engine: Engine, overlap: timedelta) -> tuple[LinkSigningKey, datetime]:
    """A new current key; links signed with the previous one stay valid for `overlap`."""
    if not timedelta(0) <= overlap <= timedelta(days=365):
        raise InvalidInput("invalid_overlap", "the overlap must be 0-365 days")
    ends = utcnow() + overlap
    with transaction(engine) as session:
        for old in session.exec(select(LinkSigningKey).where(col(LinkSigningKey.not_after).is_(None))):
            old.not_after = ends
            session.add(old)
        key = _new_key(session)
    return key, ends


def create_link(
    *,
    engine: Engine,
    partner_id: str,
    campaign_id: str,
    scene: str,
    ttl_days: int,
    idempotency_key: str,
    settings: ConversionSettings,
) -> CampaignLink:
    """Issue a signed link for one of the partner's own active campaigns."""
    scene = scene or "default"
    ttl_days = ttl_days or settings.link_default_ttl_days
    if not _SCENE.match(scene):
        raise InvalidInput("invalid_scene", "scene must be 1-40 lowercase letters, digits, '-' or '_'")
    if not 1 <= ttl_days <= settings.link_max_ttl_days:
        raise InvalidInput("invalid_ttl", f"ttl_days must be 1-{settings.link_max_ttl_days}")
    if len(idempotency_key) > 128:
        raise InvalidInput("invalid_idempotency_key", "idempotency keys are at most 128 characters")
    with transaction(engine) as session:
        if idempotency_key:
            stmt = select(CampaignLink).where(
                col(CampaignLink.partner_id) == partner_id,
                col(CampaignLink.idempotency_key) == idempotency_key,
            )
            earlier = session.exec(stmt).first()
            if earlier is not None:
                if (earlier.campaign_id, earlier.scene) != (campaign_id, scene):
                    raise Conflict("idempotency_key_reused", "this idempotency key was used for another link")
                return earlier
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.partner_id != partner_id:
            raise NotFound("campaign_not_found", f"the partner has no campaign {campaign_id}")
        if campaign.review_state != "approved":
            raise Rejected("campaign_not_approved", f"campaign {campaign_id} is not approved yet")
        if campaign.status != "active":
            raise Rejected("campaign_inactive", f"campaign {campaign_id} is {campaign.status}")
        key = _current_key(session)
        claims = LinkClaims(
            link_id=new_link_id(),
            partner_id=partner_id,
            campaign_id=campaign_id,
            scene=scene,
            expires_at=(utcnow() + timedelta(days=ttl_days)).replace(microsecond=0),
            key_id=key.key_id,
        )
        link = CampaignLink(
            link_id=claims.link_id,
            partner_id=partner_id,
            campaign_id=campaign_id,
            scene=scene,
            key_id=key.key_id,
            code=sign_link(claims=claims, secret=key.secret),
            expires_at=claims.expires_at,
            idempotency_key=idempotency_key or None,
        )
        session.add(link)
    return link


def list_links(
    *, engine: Engine, partner_id: str, campaign_id: str, size: int, token: str
) -> tuple[list[CampaignLink], str]:
    """A page of the partner's own links, by id."""
    if not partner_id:
        raise InvalidInput("partner_required", "links are listed for their partner only")
    with read_session(engine) as session:
        stmt = select(CampaignLink).where(col(CampaignLink.partner_id) == partner_id)
        if campaign_id:
            stmt = stmt.where(col(CampaignLink.campaign_id) == campaign_id)
        return read_page(session, stmt, [(col(CampaignLink.link_id), False)], token=token, size=size)


def get_link(*, engine: Engine, partner_id: str, link_id: str) -> CampaignLink:
    """One of the partner's own links; another partner's link is not found."""
    with read_session(engine) as session:
        link = session.get(CampaignLink, link_id)
    if link is None or not partner_id or link.partner_id != partner_id:
        raise NotFound("link_not_found", f"no link {link_id}")
    return link
