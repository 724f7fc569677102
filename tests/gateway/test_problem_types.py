"""Every problem `type` URI resolves to a Lattice page explaining the code and its fix."""

from __future__ import annotations

import asyncio
import functools
from urllib.parse import urljoin

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.policies.denial import problem_type
from gateway.problem_catalogue import describe
from tests.conftest import repo_root
from tests.gateway.problem_codes import scan

SOURCES = [repo_root() / "gateway", repo_root() / "services", repo_root() / "infra" / "kong" / "plugins"]


@functools.cache
def scanned() -> tuple[dict[str, str], dict[str, str]]:
    """The source is read once for the module's tests."""
    return scan(SOURCES)


def test_the_scan_finds_the_codes_of_every_kind_of_raiser() -> None:
    codes, families = scanned()
    # one of each: gateway problem, edge policy, 401 helper, handler, domain error, ternary, constant
    for code in (
        "body_too_large",
        "app_not_found",
        "signature_missing",
        "validation_failed",
        "budget_exhausted",
        "hold_expired",
        "personal_data_not_allowed",
        "unsupported_media_type",
    ):
        assert code in codes, code
    assert "invalid_*" in families


def test_every_code_the_source_can_raise_is_described() -> None:
    codes, families = scanned()
    missing = {code: where for code, where in codes.items() if describe(code) is None}
    assert not missing, f"add these codes to gateway/problem_catalogue/: {missing}"
    undescribed = {
        f: where for f, where in families.items() if describe(f.replace("*", "some_field")) is None
    }
    assert not undescribed, f"add a family to gateway/problem_catalogue/families.py: {undescribed}"


def test_every_type_uri_resolves_to_its_page() -> None:
    """In process (the page needs no service): ~250 GETs would spend the public rate limit."""
    codes, _ = scanned()

    async def fetch_all() -> dict[str, tuple[httpx.Response, httpx.Response]]:
        app = create_app(GatewaySettings(problem_base_url=""))
        transport = httpx.ASGITransport(app=app)
        pages = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://lattice.test") as client:
            for code in sorted(codes):
                uri = urljoin("http://lattice.test/v1/some/route", problem_type(code))
                as_json = await client.get(uri)
                as_html = await client.get(uri, headers={"accept": "text/html,application/xhtml+xml"})
                pages[code] = (as_json, as_html)
        return pages

    for code, (as_json, as_html) in asyncio.run(fetch_all()).items():
        assert as_json.status_code == 200, (code, as_json.text)
        page = as_json.json()
        assert page["code"] == code and page["meaning"] and page["fix"], page
        assert as_html.status_code == 200 and as_html.headers["content-type"].startswith("text/html")
        assert f"<code>{code}</code>" in as_html.text and "How to fix it" in as_html.text


def test_type_uris_are_absolute_with_a_base_url_and_relative_without() -> None:
    assert problem_type("app_not_found") == "/problems/app_not_found"
    assert problem_type("app_not_found", "https://api.bank.example/") == (
        "https://api.bank.example/problems/app_not_found"
    )


@pytest.fixture(scope="module")
def unknown_route_problem(gateway: httpx.Client) -> httpx.Response:
    return gateway.get("/v1/apps/mbank/no-such-thing")


def test_a_real_problem_carries_its_trace_id_and_its_type_resolves(
    gateway: httpx.Client, unknown_route_problem: httpx.Response
) -> None:
    body = unknown_route_problem.json()
    assert body["trace_id"] == unknown_route_problem.headers["x-trace-id"]
    assert len(body["trace_id"]) == 32
    page = gateway.get(urljoin(str(unknown_route_problem.url), body["type"]))
    assert page.status_code == 200 and page.json()["code"] == body["code"]


def test_edge_problems_carry_the_trace_id_too(gateway: httpx.Client) -> None:
    too_large = gateway.post(
        "/v1/ops/partners",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert too_large.status_code == 413
    assert too_large.json()["trace_id"] == too_large.headers["x-trace-id"]
    assert too_large.json()["type"] == "/problems/body_too_large"


def test_an_unknown_code_is_a_404_problem_and_a_bad_one_422(gateway: httpx.Client) -> None:
    unknown = gateway.get("/problems/no_such_code_at_all")
    assert unknown.status_code == 404 and unknown.json()["code"] == "problem_type_not_found"
    bad = gateway.get("/problems/" + "A" * 70)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_the_index_lists_the_codes(gateway: httpx.Client) -> None:
    index = gateway.get("/problems").json()
    assert "app_not_found" in index["codes"] and "invalid_<x>" in index["families"]
