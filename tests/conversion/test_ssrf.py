"""The SSRF guard on postback URLs (IP literals and localhost only: no traffic leaves the machine)."""

from __future__ import annotations

import pytest

from services.conversion.ssrf import check_postback_url
from services.runtime.errors import InvalidInput

FORBIDDEN = [
    "http://169.254.169.254/",
    "http://10.0.0.1/",
    "http://172.16.5.4:8080/hook",
    "http://192.168.1.1/",
    "http://127.0.0.1:9000/",
    "http://localhost/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://100.64.0.1/",
    "http://240.0.0.1/",
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_postback_url(url, allowlist=[])
    assert err.value.reason == "postback_url_forbidden"


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/", "file:///etc/passwd", "http:///x", "http://u:p@8.8.8.8/"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_postback_url(url, allowlist=[])
    assert err.value.reason == "postback_url_invalid"


def test_public_addresses_pass_and_the_allow_list_admits_one_local_receiver() -> None:
    assert check_postback_url("https://8.8.8.8/postback", allowlist=[]) == "8.8.8.8"
    assert check_postback_url("http://127.0.0.1:9000/hook", allowlist=["127.0.0.1:9000"]) == "127.0.0.1"
    with pytest.raises(InvalidInput):
        check_postback_url("http://127.0.0.1:9001/hook", allowlist=["127.0.0.1:9000"])


@pytest.mark.parametrize("url", ["https://ãa,l¶]…", "https://[::1", "http://[fe80::1/"])
def test_unparseable_urls_are_invalid_input_not_errors(url: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_postback_url(url, allowlist=[])
    assert err.value.reason == "postback_url_invalid"
