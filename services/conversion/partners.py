"""Partners as conversion sees them."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from services.conversion.models import PartnerFlag, PartnerProfile
from services.runtime.db import read_session
from services.runtime.errors import NotFound


def get_partner_profile(*, engine: Engine, partner_id: str) -> tuple[PartnerProfile, PartnerFlag | None]:
    """The partner's profile and, when the click-flood guard flagged it, the flag."""
    with read_session(engine) as session:
        profile = session.get(PartnerProfile, partner_id)
        flag = session.get(PartnerFlag, partner_id)
    if profile is None:
        raise NotFound("partner_not_found", f"conversion knows no partner {partner_id}")
    return profile, flag
