"""SSRF guard for postback URLs: only public addresses, checked at registration and at every send."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from services.runtime.errors import InvalidInput

MAX_URL_LENGTH = 500


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme == "https" else 80)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput("postback_url_unresolvable", f"the postback host {host} does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_postback_url(url: str, *, allowlist: list[str]) -> str:
    """The address to connect to for `url`; raises InvalidInput when the URL is not safe to call.

    Every resolved address must be public, so a name that resolves to both a public and a private
    address is refused. Allow-listed "host:port" pairs (a test's own receiver) are exempt.
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput("postback_url_invalid", "the postback URL is too long")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket
        raise InvalidInput("postback_url_invalid", "the postback URL cannot be parsed") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise InvalidInput("postback_url_invalid", "the postback URL must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise InvalidInput("postback_url_invalid", "the postback URL must not carry credentials")
    try:
        port = _port(parts.scheme, parts.port)
    except ValueError as exc:
        raise InvalidInput("postback_url_invalid", "the postback URL has an invalid port") from exc
    addresses = resolve(hostname, port)
    if f"{hostname}:{port}" in allowlist:
        return addresses[0]
    if not addresses or not all(_is_public(a) for a in addresses):
        raise InvalidInput(
            "postback_url_forbidden", "postback URLs must resolve only to public internet addresses"
        )
    return addresses[0]
