"""`GET /r/{code}`: verify a partner link locally, publish the click to JetStream, answer 302.

No database write on this path: the link signature is checked against keys cached from conversion
(refetched when an unknown key id shows up, so rotations are picked up at once), the campaign's
landing is cached for a short time, and the click goes to JetStream with click_id as the event id.
Tampered, expired or otherwise unusable links (and links of campaigns not yet approved) are counted
but never attributed, and go to the safe default landing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
import uuid
from functools import lru_cache
from typing import Annotated
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import grpc
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import RedirectResponse
from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import events_pb2

from services.runtime.clock import from_timestamp, to_timestamp, utcnow
from services.runtime.errors import InvalidInput
from services.runtime.link_codec import MAX_CODE_LENGTH, LinkClaims, LinkRejected, verify_link
from services.runtime.ssrf import check_redirect_url

logger = logging.getLogger(__name__)
router = APIRouter(tags=["conversion"])

CLICK_SUBJECT = "conversion.click.recorded"
DEVICE_COOKIE = "lattice_did"
KEYS_MAX_AGE_S = 300.0
KEYS_MIN_REFRESH_S = 1.0
CAMPAIGN_MAX_AGE_S = 30.0
_DEVICE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
Code = Annotated[str, Path(min_length=10, max_length=MAX_CODE_LENGTH)]


class LinkDirectory:
    """Link keys and campaign landings, fetched from conversion over gRPC and cached per process."""

    def __init__(self, stub) -> None:
        self._stub = stub
        self._keys: dict[str, tuple[bytes, float | None]] = {}
        self._keys_at = -KEYS_MAX_AGE_S
        self._lock = asyncio.Lock()
        self._campaigns: dict[str, tuple[float, pb.Campaign | None]] = {}
        self.safe_landing = ""
        self.landing_domains: list[str] = []
        self.landing_app_schemes: list[str] = []

    async def _refresh_keys(self, *, unless_newer_than: float) -> None:
        async with self._lock:
            if self._keys_at > unless_newer_than:
                return
            resp = await self._stub.ListLinkSigningKeys(pb.ListLinkSigningKeysRequest())
            self._keys = {}
            for key in resp.keys:
                not_after = from_timestamp(key.not_after)
                self._keys[key.key_id] = (key.secret, not_after.timestamp() if not_after else None)
            self.safe_landing = resp.safe_landing_url
            self.landing_domains = list(resp.landing_domains)
            self.landing_app_schemes = list(resp.landing_app_schemes)
            self._keys_at = time.monotonic()

    def _usable_keys(self) -> dict[str, bytes]:
        now = time.time()
        return {kid: secret for kid, (secret, ends) in self._keys.items() if ends is None or ends > now}

    async def verify(self, code: str) -> LinkClaims:
        """The claims of a valid link; an unknown key id triggers a (rate-limited) key refresh."""
        now = time.monotonic()
        if now - self._keys_at > KEYS_MAX_AGE_S:
            await self._refresh_keys(unless_newer_than=now - KEYS_MAX_AGE_S)
        try:
            return verify_link(code=code, keys=self._usable_keys(), now=utcnow())
        except LinkRejected as exc:
            if exc.reason != "unknown_key" or time.monotonic() - self._keys_at < KEYS_MIN_REFRESH_S:
                raise
        await self._refresh_keys(unless_newer_than=time.monotonic() - KEYS_MIN_REFRESH_S)
        return verify_link(code=code, keys=self._usable_keys(), now=utcnow())

    async def campaign(self, campaign_id: str) -> pb.Campaign | None:
        """The campaign (cached briefly; a stale entry is served while conversion cannot answer)."""
        cached = self._campaigns.get(campaign_id)
        if cached is not None and time.monotonic() - cached[0] < CAMPAIGN_MAX_AGE_S:
            return cached[1]
        try:
            found: pb.Campaign | None = (
                await self._stub.GetCampaign(pb.GetCampaignRequest(campaign_id=campaign_id))
            ).campaign
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                if cached is not None:
                    return cached[1]
                raise
            found = None
        self._campaigns[campaign_id] = (time.monotonic(), found)
        return found


def _directory(request: Request) -> LinkDirectory:
    state = request.app.state
    if getattr(state, "link_directory", None) is None:
        state.link_directory = LinkDirectory(state.clients.conversion)
    return state.link_directory


def ip_class(request: Request) -> str:
    """A keyed hash of the caller's /24 (IPv4) or /48 (IPv6) network: groups devices, names no one."""
    host = request.client.host if request.client else ""
    return _ip_class(request.app.state.settings.pepper, host)


@lru_cache(maxsize=4096)  # per caller address: a busy link sees the same networks again and again
def _ip_class(pepper: str, host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return ""
    network = ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False)
    return hmac.new(pepper.encode(), str(network).encode(), hashlib.sha256).hexdigest()[:16]


def with_click_id(landing: str, click_id: str) -> str:
    """The landing with `click_id` as its last query parameter (any click_id it had is dropped)."""
    head, query, fragment = _landing_parts(landing)
    return f"{head}?{query}{'&' if query else ''}click_id={quote_plus(click_id)}{fragment}"


@lru_cache(maxsize=1024)  # per landing: a campaign's landing is parsed once, not per click
def _landing_parts(landing: str) -> tuple[str, str, str]:
    """(the URL before its query, its query without click_id, '#fragment' or '')."""
    parts = urlsplit(landing)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "click_id"])
    head = urlunsplit(parts._replace(query="", fragment=""))
    return head, query, f"#{parts.fragment}" if parts.fragment else ""


async def _resolve(directory: LinkDirectory, code: str) -> tuple[LinkClaims | None, str, str]:
    """(claims, rejection, landing) for a link code."""
    try:
        claims = await directory.verify(code)
    except LinkRejected as exc:
        return exc.claims, "bad_signature" if exc.reason == "unknown_key" else exc.reason, ""
    campaign = await directory.campaign(claims.campaign_id)
    if campaign is None or campaign.partner_id != claims.partner_id:
        return claims, "unknown_campaign", ""
    if campaign.review_state != "approved":
        return claims, "campaign_not_approved", ""
    if campaign.status != "active":
        return claims, "campaign_inactive", ""
    try:  # checked when written; checked again here for landings written before the guard existed
        check_redirect_url(
            campaign.landing_url, domains=directory.landing_domains, app_schemes=directory.landing_app_schemes
        )
    except InvalidInput:
        return claims, "unsafe_landing", ""
    return claims, "", campaign.landing_url


async def _record(request: Request, *, code: str, interaction: str) -> tuple[str, str, str]:
    """Verify and publish one click or view; (click_id or '', landing, device id)."""
    directory = _directory(request)
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    device_id = cookie if _DEVICE.match(cookie) else secrets.token_urlsafe(16)
    claims, rejection, landing = await _resolve(directory, code)
    click_id = uuid.uuid4().hex
    event = events_pb2.ClickRecorded(
        click_id=click_id,
        link_code=claims.link_id if claims else "",
        partner_id=claims.partner_id if claims else "",
        campaign_id=claims.campaign_id if claims else "",
        scene=claims.scene if claims else "",
        device_id=device_id,
        attributable=not rejection,
        rejection=rejection,
        occurred_at=to_timestamp(utcnow()),
        ip_class=ip_class(request),
        interaction=interaction,
    )
    try:
        await request.app.state.bus.publish(
            CLICK_SUBJECT, event.SerializeToString(), event_id=click_id, event_type=event.DESCRIPTOR.full_name
        )
    except Exception:
        logger.warning(
            "click %s could not be published; redirecting without attribution", click_id, exc_info=True
        )
        rejection = rejection or "not_recorded"
    if rejection:
        return "", directory.safe_landing, device_id
    return click_id, landing, device_id


def _remember_device(response: Response, request: Request, device_id: str) -> None:
    if request.cookies.get(DEVICE_COOKIE) != device_id:
        response.set_cookie(
            DEVICE_COOKIE,
            device_id,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


@router.get(
    "/r/{code}",
    operation_id="follow_link",
    status_code=302,
    response_class=RedirectResponse,
    summary="Follow a partner link",
)
async def follow_link(code: Code, request: Request) -> RedirectResponse:
    """302 to the campaign's landing with a click_id; to the safe landing when the link is not valid."""
    click_id, landing, device_id = await _record(request, code=code, interaction="click")
    location = with_click_id(landing, click_id) if click_id else landing
    response = RedirectResponse(
        location, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
    _remember_device(response, request, device_id)
    return response


@router.get(
    "/r/{code}/view",
    operation_id="record_link_view",
    status_code=204,
    summary="Count a view of a partner link (impression)",
)
async def view_link(code: Code, request: Request) -> Response:
    """Record a view: views are credited only when no click is eligible."""
    _click_id, _landing, device_id = await _record(request, code=code, interaction="view")
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    _remember_device(response, request, device_id)
    return response
