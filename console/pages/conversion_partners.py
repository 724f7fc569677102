"""Conversion partners: the flood guard, the postback endpoint, their campaigns, and link-key rotation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from console.api import OpsApiDep, ops_path
from console.templating import render, translator

router = APIRouter(prefix="/conversion")


async def _page(
    request: Request, api: OpsApiDep, partner_id: str, rotated: dict[str, str] | None
) -> Response:
    partner = await api.get(ops_path("/v1/ops/conversion/partners/{}", partner_id))
    campaigns = await api.get("/v1/ops/conversion/campaigns", {"partner_id": partner_id, "page_size": 100})
    t = translator(request)
    return await render(
        request,
        "conversion/partner.html",
        title=f"{partner['name']} ({partner['partner_id']})",
        breadcrumb=[(t("conversion.campaigns"), "/conversion/campaigns"), (partner["name"], None)],
        partner=partner,
        campaigns=campaigns["items"],
        rotated=rotated,
    )


@router.get("/partners/{partner_id}")
async def partner_page(request: Request, api: OpsApiDep, partner_id: str) -> Response:
    return await _page(request, api, partner_id, None)


@router.post("/partners/{partner_id}/rotate-link-key")
async def rotate_link_key(
    request: Request, api: OpsApiDep, partner_id: str, overlap_days: Annotated[int, Form(ge=0, le=365)] = 30
) -> Response:
    """Head-office admins rotate the link signing key; links signed before stay valid for the overlap."""
    rotated = await api.post("/v1/ops/conversion/link-keys/rotate", {"overlap_days": overlap_days})
    return await _page(request, api, partner_id, rotated)
