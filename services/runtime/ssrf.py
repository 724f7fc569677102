"""The one guard for URLs the platform fetches (postbacks) or sends visitors to (landings).

Fetched URLs must resolve only to public addresses, at write time and again before every request
(the caller connects to the address answered here, so DNS cannot change between check and use).
Redirect targets must be https pages on the bank's own domains or the bank's app deep links.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.errors import InvalidInput

MAX_URL_LENGTH = 500
# RFC 3986 characters only: no spaces, backslashes, control or non-ASCII characters that browsers
# and HTTP clients would each "repair" differently.
_URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class OutboundSettings(BaseSettings):
    """The one allow-list of local `host:port` receivers (tests and `make run`), for every process."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # `host:port` pairs exempt from the SSRF guard, the only ones plain http may reach (conversion's
    # postbacks, identity's partner postback URLs); `make run` allows the demo receiver
    postback_allowlist: list[str] = Field(
        default_factory=list, validation_alias="CONVERSION_POSTBACK_ALLOWLIST"
    )


def _parse(url: str, field: str) -> SplitResult:
    if not url or len(url) > MAX_URL_LENGTH or not _URL_CHARS.fullmatch(url):
        raise InvalidInput(f"{field}_invalid", f"the {field} must be an ASCII URL of at most 500 characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on an invalid port)
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket or a port out of range
        raise InvalidInput(f"{field}_invalid", f"the {field} cannot be parsed") from exc
    if "@" in parts.netloc or parts.username or parts.password:
        raise InvalidInput(f"{field}_invalid", f"the {field} must not carry credentials")
    return parts


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal, in any notation, resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise InvalidInput("postback_url_unresolvable", "the postback host does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_postback_url(url: str, *, allowlist: list[str]) -> str:
    """The address to connect to for `url`; raises InvalidInput when the URL is not safe to call.

    https only, except allow-listed "host:port" pairs (a test's or the demo's local receiver).
    Every resolved address must be public, so a name resolving to a public and a private address
    is refused.
    """
    parts = _parse(url, "postback_url")
    hostname = parts.hostname
    if parts.scheme not in ("http", "https") or not hostname:
        raise InvalidInput("postback_url_invalid", "the postback URL must be an https URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = f"{hostname}:{port}" in allowlist
    if parts.scheme != "https" and not allowed:
        raise InvalidInput("postback_url_invalid", "postback URLs must use https")
    addresses = resolve(hostname, port)
    if allowed:
        return addresses[0]
    if not addresses or not all(_is_public(a) for a in addresses):
        raise InvalidInput(
            "postback_url_forbidden", "postback URLs must resolve only to public internet addresses"
        )
    return addresses[0]


def check_redirect_url(
    url: str, *, domains: list[str], app_schemes: list[str], field: str = "landing_url"
) -> str:
    """`url` when visitors may be sent there: https on a bank domain, or a deep link into a bank app.

    Hosts are names, never IP literals: only names equal to or under an allow-listed domain pass.
    """
    parts = _parse(url, field)
    scheme = parts.scheme.lower()
    if scheme in app_schemes:
        if not url.startswith(f"{parts.scheme}://") or not (parts.netloc or parts.path.strip("/")):
            raise InvalidInput(f"{field}_invalid", f"the {field} deep link must read {scheme}://<place>")
        return url
    host = (parts.hostname or "").rstrip(".")
    if scheme != "https" or not url.lower().startswith("https://") or not _HOST.fullmatch(host):
        raise InvalidInput(f"{field}_invalid", f"the {field} must be an https URL or a bank app deep link")
    if parts.port not in (None, 443):
        raise InvalidInput(f"{field}_forbidden", f"the {field} must name a bank host on the default port")
    if not any(host == d or host.endswith("." + d) for d in domains):
        raise InvalidInput(f"{field}_forbidden", f"the {field} must be on one of the bank's domains")
    return url
