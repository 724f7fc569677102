"""The one URL guard (services/runtime/ssrf.py) on generated hostile URLs; no traffic leaves the machine."""

from __future__ import annotations

import pytest

from services.runtime.errors import InvalidInput
from services.runtime.ssrf import check_postback_url, check_redirect_url
from tests.conversion.hostile_urls import hostile_urls

BANK = {"domains": ["bank.example"], "app_schemes": ["mbank", "life"]}


@pytest.mark.parametrize("url", hostile_urls())
def test_hostile_urls_are_refused_as_postbacks(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_postback_url(url, allowlist=[])
    assert err.value.reason.startswith("postback_url_")


@pytest.mark.parametrize("url", hostile_urls())
def test_hostile_urls_are_refused_as_landings(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_redirect_url(url, **BANK)
    assert err.value.reason in ("landing_url_invalid", "landing_url_forbidden")


def test_public_addresses_pass_and_the_allow_list_admits_one_local_receiver() -> None:
    assert check_postback_url("https://8.8.8.8/postback", allowlist=[]) == "8.8.8.8"
    assert check_postback_url("http://127.0.0.1:9000/hook", allowlist=["127.0.0.1:9000"]) == "127.0.0.1"
    with pytest.raises(InvalidInput):
        check_postback_url("http://127.0.0.1:9001/hook", allowlist=["127.0.0.1:9000"])
    with pytest.raises(InvalidInput):  # plain http only for an allow-listed local receiver
        check_postback_url("http://8.8.8.8/postback", allowlist=[])


@pytest.mark.parametrize(
    "url",
    [
        "https://life.bank.example/welcome?from=ride",
        "https://bank.example/",
        "https://WWW.Bank.Example/safe#top",
        "mbank://campaigns/lunch",
        "life://wallet",
    ],
)
def test_bank_pages_and_app_deep_links_are_landings(url: str) -> None:
    assert check_redirect_url(url, **BANK) == url
