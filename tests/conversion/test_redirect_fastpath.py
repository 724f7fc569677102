"""The redirect's per-request helpers, cached per landing and per caller address, answer exactly what
the uncached forms answered: the landing with click_id last (any earlier click_id dropped), and a
keyed hash of the caller's /24 or /48 that changes with the pepper."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from gateway.routes.conversion.redirect import ip_class, with_click_id

LANDINGS = [
    "https://life.bank.example/welcome?src=partner",
    "https://life.bank.example/",
    "https://life.bank.example",
    "https://life.bank.example/p?click_id=forged&a=1#offer",
    "https://life.bank.example/p?a=1&click_id=forged&click_id=again",
    "https://life.bank.example/p#offer",
    "https://life.bank.example/p?",
    "https://life.bank.example/p?a=%20b&c&d=",
    "https://life.bank.example:8443/p;v=1?q=1&q=2",
    "https://life.bank.example/%E4%BA%BA?name=%E4%BA%BA+x",
    "lifeapp://open?screen=offer",
    "lifeapp:open",
]


def _reference_with_click_id(landing: str, click_id: str) -> str:
    parts = urlsplit(landing)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "click_id"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("click_id", click_id)])))


@pytest.mark.parametrize("landing", LANDINGS)
@pytest.mark.parametrize("click_id", ["0123456789abcdef0123456789abcdef", "a b&c=d", ""])
def test_the_cached_landing_gives_the_same_location(landing: str, click_id: str) -> None:
    for _ in range(2):  # the first call parses and caches the landing, the second uses the cache
        assert with_click_id(landing, click_id) == _reference_with_click_id(landing, click_id)


def _request(host: str, pepper: str) -> Any:
    return SimpleNamespace(
        client=SimpleNamespace(host=host),
        app=SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(pepper=pepper))),
    )


def _reference_ip_class(host: str, pepper: str) -> str:
    ip = ipaddress.ip_address(host)
    network = ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False)
    return hmac.new(pepper.encode(), str(network).encode(), hashlib.sha256).hexdigest()[:16]


def test_the_ip_class_is_the_keyed_hash_of_the_network_and_follows_the_pepper() -> None:
    for host in ("203.0.113.7", "203.0.113.200", "198.51.100.7", "2001:db8:1:2::7", "::1"):
        for pepper in ("pepper-one", "pepper-two"):
            for _ in range(2):
                assert ip_class(_request(host, pepper)) == _reference_ip_class(host, pepper)
    one = ip_class(_request("203.0.113.7", "pepper-one"))
    assert one == ip_class(_request("203.0.113.200", "pepper-one"))  # same /24
    assert one != ip_class(_request("203.0.114.7", "pepper-one"))
    assert one != ip_class(_request("203.0.113.7", "pepper-two"))
    assert ip_class(_request("testclient", "pepper-one")) == ""
    no_client: Any = SimpleNamespace(client=None, app=_request("", "p").app)
    assert ip_class(no_client) == ""
