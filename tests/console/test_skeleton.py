"""The skeleton's guarantees in a real browser and over plain HTTP: CSRF, CSP, escaping, languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from console.i18n import LANGUAGES, glossary
from console.security import CONTENT_SECURITY_POLICY
from services.identity.demo_data import DEMO_OPERATOR_SECRETS
from tests.console.conftest import sign_in

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@contextmanager
def signed_in_client(console_url: str, operator_id: str) -> Iterator[tuple[httpx.Client, str]]:
    """A plain HTTP client with a signed-in session and its CSRF token."""
    with httpx.Client(base_url=console_url, timeout=20, follow_redirects=False) as client:
        token = CSRF_META.search(client.get("/sign-in").text).group(1)
        secret = DEMO_OPERATOR_SECRETS[operator_id]
        answer = client.post(
            "/sign-in", data={"operator_id": operator_id, "secret": secret, "csrf_token": token}
        )
        assert answer.status_code == 303, answer.text[:500]
        home = client.get("/")
        assert home.status_code == 200
        yield client, CSRF_META.search(home.text).group(1)


@pytest.mark.parametrize(
    ("path", "data"),
    [("/sign-out", {}), ("/language", {"language": "en"}), ("/sign-in", {"operator_id": "x", "secret": "y"})],
)
def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(console_url, path, data):
    with signed_in_client(console_url, "hq-viewer") as (client, token):
        for forged in ({}, {"csrf_token": "not-the-token"}, {"csrf_token": token[:-1]}):
            answer = client.post(path, data={**data, **forged})
            assert answer.status_code == 403, (path, forged)
            assert 'data-code="csrf_token_invalid"' in answer.text
        wrong_header = client.post(path, data=data, headers={"X-CSRF-Token": "forged"})
        assert wrong_header.status_code == 403
        still = client.get("/")
        assert still.status_code == 200 and 'lang="zh-Hans"' in still.text, "nothing may have changed"
        assert (
            client.post("/language", data={"language": "en"}, headers={"X-CSRF-Token": token}).status_code
            == 303
        )


def test_every_kind_of_response_carries_the_csp_and_the_other_headers(console_url):
    with signed_in_client(console_url, "hq-admin") as (client, _):
        answers = {
            "page": client.get("/"),
            "redirect": httpx.get(f"{console_url}/", follow_redirects=False),
            "sign-in": httpx.get(f"{console_url}/sign-in"),
            "not found": client.get("/no/such/page"),
            "invalid query": client.get("/sign-in", params={"next": "x" * 5000}),
            "static": client.get("/static/console.js"),
            "vendored": client.get("/static/vendor/htmx/htmx.min.js"),
            "health": client.get("/healthz"),
            "refused": client.post("/sign-out"),
        }
    assert answers["not found"].status_code == 404 and answers["invalid query"].status_code == 422
    for kind, answer in answers.items():
        assert answer.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, kind
        assert answer.headers.get("x-content-type-options") == "nosniff", kind
        assert answer.headers.get("x-frame-options") == "DENY", kind
        assert "Traceback" not in answer.text, kind
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert answers["page"].headers["cache-control"] == "no-store"


def test_the_session_cookie_is_httponly_samesite_strict_and_the_token_stays_on_the_server(console_url):
    with signed_in_client(console_url, "sh-operator") as (client, _):
        cookie = next(c for c in client.cookies.jar if c.name == "lattice_console")
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "strict"
        assert not cookie.secure, "plain HTTP here: Secure only over TLS"
        page = client.get("/").text
        assert "eyJ" not in page, "no JWT in the page"
        assert DEMO_OPERATOR_SECRETS["sh-operator"] not in page


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_sign_in_returns_only_to_a_local_page(console_url, next_path):
    with httpx.Client(base_url=console_url, timeout=20, follow_redirects=False) as client:
        token = CSRF_META.search(client.get("/sign-in").text).group(1)
        secret = DEMO_OPERATOR_SECRETS["hq-viewer"]
        answer = client.post(
            "/sign-in",
            data={"operator_id": "hq-viewer", "secret": secret, "csrf_token": token, "next": next_path},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/"


@pytest.mark.browser
def test_a_script_typed_into_the_sign_in_form_comes_back_as_text(new_page):
    page = new_page()
    typed = "<img src=x onerror=pwned=2><script>pwned=1</script>"  # within the field's 64 characters
    sign_in(page, typed, secret="whatever-secret")
    assert page.input_value("#operator_id") == typed
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("script:not([src])").count() == 0
    assert page.csp_violations == [], "escaped text, not a blocked script"


@pytest.mark.browser
def test_the_language_switch_changes_every_label_and_is_kept_in_the_session(new_page):
    page = new_page()
    sign_in(page, "hq-reviewer")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert "退出登录" in page.get_by_test_id("sign-out").inner_text()
    page.click("button[name=language][value=en]")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_test_id("sign-out").inner_text() == "Sign out"
    page.goto("/")
    assert page.get_by_test_id("sign-out").inner_text() == "Sign out", "kept for the session"
    assert page.csp_violations == []


@pytest.mark.browser
def test_a_fetch_without_the_token_is_refused_in_the_browser_too(new_page):
    page = new_page()
    sign_in(page, "hq-admin")
    status = page.evaluate(
        "async () => (await fetch('/sign-out', {method: 'POST', body: new URLSearchParams({})})).status"
    )
    assert status == 403
    page.goto("/")
    assert page.get_by_test_id("who").is_visible(), "still signed in"


def test_the_glossary_has_both_languages_for_every_key_and_the_banks_terms():
    entries = glossary()
    missing = [
        key for key, texts in entries.items() if set(texts) != set(LANGUAGES) or not all(texts.values())
    ]
    assert missing == []
    chinese = " ".join(texts["zh-Hans"] for texts in entries.values())
    for term in ("北极星指标", "运营资源位", "权益", "触达", "中心化+属地化"):
        assert term in chinese, term


def test_every_literal_glossary_key_in_the_templates_and_pages_exists():
    """A key missing from the glossary would show as `area.key` on the page."""
    root = Path(__file__).resolve().parents[2] / "console"
    used = re.compile(r"""(?:\bt\(|label=)\s*['"]([a-z_]+\.[a-z0-9_.]*[a-z0-9])['"]""")
    entries = glossary()
    missing = {
        f"{path.relative_to(root)}: {key}"
        for path in [*root.joinpath("templates").rglob("*.html"), *root.joinpath("pages").rglob("*.py")]
        for key in used.findall(path.read_text(encoding="utf-8"))
        if key not in entries
    }
    assert sorted(missing) == []
