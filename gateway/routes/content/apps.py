"""Slots served to the signed-in customer of a sibling app: `GET /v1/apps/{app_id}/slots/{position}`."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from lattice.content.v1 import content_pb2 as pb
from pydantic import BaseModel

from gateway.auth import CustomerDep
from gateway.clients import ClientsDep
from gateway.customer_attributes import CustomerAttributesDep
from gateway.routes.content.public import MediaPublic
from gateway.routes.content.schemas import Locale, Slug
from services.runtime.editions import served_edition
from services.runtime.proto_mapping import from_proto

router = APIRouter(prefix="/v1/apps/{app_id}", tags=["content"])
PositionPath = Annotated[
    str, Path(max_length=160, pattern=r"^[a-z0-9][a-z0-9_-]{0,38}(?:/[a-z0-9][a-z0-9_-]{0,38}){0,3}$")
]
_LANGUAGE_RANGE = re.compile(r"^([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)(?:\s*;\s*q=([01](?:\.\d{0,3})?))?$")
MAX_LANGUAGES = 10


class ServedItem(BaseModel):
    placement_id: str
    item_id: str
    version: int
    type: str
    edition: str
    locale: str
    title: str
    body: str
    media: list[MediaPublic]
    deep_link: str | None


def served_item(item: pb.RenderedItem, placement_id: str) -> ServedItem:
    # the contract keeps the placement that chose the item beside it; over HTTP the item names it
    return from_proto(ServedItem, item, placement_id=placement_id)


def preferred_languages(header: str | None) -> list[str]:
    """Accept-Language ranges, best first (RFC 9110 q-values); unparseable ranges are ignored."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")[:MAX_LANGUAGES]):
        match = _LANGUAGE_RANGE.match(part.strip())
        if match and (q := float(match.group(2) or 1)) > 0:
            ranked.append((-q, i, match.group(1)))
    return [tag for _, _, tag in sorted(ranked)]


@router.get(
    "/slots/{position:path}",
    operation_id="serve_slot",
    response_model=ServedItem,
    responses={204: {"description": "nothing in this slot is for this customer now"}},
    summary="The item a resource slot shows to the signed-in customer, in their edition and locale",
)
async def serve_slot(
    app_id: Slug,
    position: PositionPath,
    customer: CustomerDep,
    clients: ClientsDep,
    customer_attributes: CustomerAttributesDep,
    locale: Annotated[Locale | None, Query(description="overrides Accept-Language")] = None,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> ServedItem | Response:
    """The item this customer sees in the app's slot now, in their language and edition; 204 when nothing is
    placed there for them.
    """
    attributes = await customer_attributes.of(customer.customer_id)
    viewer = pb.Viewer(
        customer_id=customer.customer_id,
        edition=served_edition(attributes.editions),
        assurance_level=customer.assurance_level,
        aum_tier=attributes.aum_tier,
        branch=attributes.branch,
        tags=attributes.tags,
    )
    locales = [locale] if locale else preferred_languages(accept_language)
    resp = await clients.content.ServeSlot(
        pb.ServeSlotRequest(slot_key=f"{app_id}/{position}", viewer=viewer, locales=locales)
    )
    if not resp.served:
        return Response(status_code=204)
    return _served_json(resp)


_SERVED_JSON: dict[bytes, bytes] = {}
MAX_SERVED_JSON = 4096


def _served_json(resp: pb.ServeSlotResponse) -> Response:
    """The served item's JSON body, made once per distinct answer (a placement's item in an edition and
    locale): what the response model would send, without validating and encoding it on every serve."""
    key = resp.SerializeToString(deterministic=True)
    body = _SERVED_JSON.get(key)
    if body is None:
        item = served_item(resp.item, resp.placement_id).model_dump(mode="json", by_alias=True)
        body = bytes(JSONResponse(item).body)
        if len(_SERVED_JSON) >= MAX_SERVED_JSON:
            _SERVED_JSON.clear()
        _SERVED_JSON[key] = body
    return Response(body, media_type="application/json")
