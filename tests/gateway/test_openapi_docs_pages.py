"""The documentation pages work offline: they reference only the gateway's own assets, and it serves them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """Every URL a page makes the browser load or link to (src, href) and the inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def references(page: str) -> References:
    parser = References()
    parser.feed(page)
    return parser


@pytest.mark.parametrize(("path", "script_global"), [("/docs", "SwaggerUIBundle"), ("/redoc", "Redoc")])
def test_the_page_loads_only_local_assets_and_they_are_served(
    openapi_gateway: httpx.Client, path: str, script_global: str
) -> None:
    page = openapi_gateway.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # nothing from a CDN or a font service: no absolute URL anywhere in the page
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page.text, re.IGNORECASE), page.text
    found = references(page.text)
    assets = [url for url in found.urls if url.startswith("/docs/assets/")]
    assert len(assets) >= 2 and set(found.urls) == set(assets), found.urls
    for url in assets:
        asset = openapi_gateway.get(url)
        suffix = url[url.rindex(".") :]
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].split(";")[0] == ASSET_TYPES[suffix], url
        assert len(asset.content) > 1000, url
    scripts = [openapi_gateway.get(url).text for url in assets if url.endswith(".js")]
    assert any(script_global in script for script in scripts)
    # the page loads the gateway's own description
    assert "/openapi.json" in page.text and openapi_gateway.get("/openapi.json").status_code == 200
    csp = page.headers.get("content-security-policy")
    if csp is not None:  # a policy on the pages must let their own assets and inline start-up run
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
        assert "'self'" in directives.get("script-src", directives.get("default-src", ""))


def test_swagger_ui_makes_no_call_to_the_public_validator(openapi_gateway: httpx.Client) -> None:
    page = openapi_gateway.get("/docs").text
    assert '"validatorUrl": null' in page
    assert "'/docs/oauth2-redirect'" in page
    redirect = openapi_gateway.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "oauth2" in redirect.text


def test_the_root_leads_to_the_documents(openapi_gateway: httpx.Client) -> None:
    index = openapi_gateway.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    links = references(index.text).urls
    for path in ("/docs", "/redoc", "/openapi.json", "/v1/partner/openapi.json", "/problems"):
        assert path in links
    for link in links:
        assert openapi_gateway.get(link).status_code == 200, link


def test_an_unknown_asset_is_a_404(openapi_gateway: httpx.Client) -> None:
    response = openapi_gateway.get("/docs/assets/../../../etc/passwd")
    assert response.status_code == 404
    assert openapi_gateway.get("/docs/assets/missing.js").status_code == 404
