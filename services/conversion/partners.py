"""Partners as conversion sees them."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from services.conversion.models import PartnerProfile
from services.runtime.db import read_session
from services.runtime.errors import NotFound


def get_partner_profile(*, engine: Engine, partner_id: str) -> PartnerProfile:
    with read_session(engine) as session:
        profile = session.get(PartnerProfile, partner_id)
    if profile is None:
        raise NotFound("partner_not_found", f"conversion knows no partner {partner_id}")
    return profile
