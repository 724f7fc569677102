"""The console's security, for every route it declares and every page reachable from its navigation:
CSRF on every state-changing route, the strict CSP on every answer, operator-written text escaped,
no operator secret or token in pages, URLs or logs, and a branch never shown another branch's objects
(not in lists, not by a hand-edited URL)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from services.identity.demo_data import DEMO_OPERATOR_SECRETS
from services.runtime.personal_data import find_personal_numbers
from tests.console.branch_objects import (
    CHOICES,
    ESCAPED,
    FORGED_FORM,
    FORMULA_STARTS,
    RAW,
    READS,
    state_of,
    walker,
    write_beijing_objects,
)
from tests.console.crawl import (
    JWT,
    STATE_CHANGING,
    Walk,
    console_routes,
    nav_paths,
    sign_in,
    walk,
)
from tests.support.privacy import findings
from tools.stack import Stack


@pytest.fixture(scope="module")
def beijing(gateway: httpx.Client) -> dict[str, str]:
    """Objects of every kind written by Beijing's operator, each named with a marker and the payload."""
    return write_beijing_objects(gateway)


def _start() -> list[str]:
    return ["/", *nav_paths()]


@pytest.fixture(scope="module")
def admin_walk(console_url: str, gateway: httpx.Client, beijing: dict[str, str]) -> Walk:
    """Every page head office's admin reaches from the navigation, with Beijing's objects in place."""
    operator_id, secret = walker(gateway, role="admin")
    pages = walk(sign_in(console_url, operator_id, secret), start=_start())
    pages.secret = secret
    assert len(pages.pages) >= 30, sorted(pages.pages)  # the walk went deep, signed in all along
    assert not [u for u, a in pages.pages.items() if "/sign-in" in a.headers.get("location", "")]
    return pages


@pytest.fixture(scope="module")
def reviewer_walk(console_url: str, gateway: httpx.Client, beijing: dict[str, str]) -> Walk:
    return walk(sign_in(console_url, *walker(gateway, role="reviewer")), start=_start())


def _csp_is_strict(answer: httpx.Response) -> None:
    policy = answer.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("default-src") == ["'self'"], (answer.request.url, policy)
    assert directives.get("script-src") == ["'self'"], policy
    assert directives.get("style-src") == ["'self'"], policy
    assert directives.get("object-src") == ["'none'"], policy
    assert directives.get("frame-ancestors") == ["'none'"], policy
    assert "unsafe" not in policy
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert answer.headers.get("x-frame-options") == "DENY"
    if not answer.request.url.path.startswith("/static/"):
        assert "no-store" in answer.headers.get("cache-control", ""), answer.request.url


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(console_url: str) -> None:
    routes = [r for r in console_routes() if r.method in STATE_CHANGING]
    assert any(r.path == "/sign-out" for r in routes), "the enumeration sees the console's routes"
    operator = sign_in(console_url, "hq-operator")
    good = operator.csrf
    for route in routes:
        url = route.fill("sec-x1")
        for sent in ({}, {"csrf_token": "forged"}, {"csrf_token": good + "x"}):
            answer = operator.client.request(route.method, url, data={"reason": "r", **sent})
            assert answer.status_code == 403, (route, sent, answer.status_code)
            assert 'data-code="csrf_token_invalid"' in answer.text, (route, answer.text[:300])
            _csp_is_strict(answer)
        answer = operator.client.request(route.method, url, headers={"X-CSRF-Token": "forged"}, json={})
        assert answer.status_code == 403, (route, "htmx header")
    # nothing ran: the refused sign-out left the operator signed in; with the token the same route works
    assert operator.signed_in
    answer = operator.client.post("/language", data={"csrf_token": good, "language": "en", "next": "/"})
    assert answer.status_code == 303
    answer = operator.client.post("/sign-out", headers={"X-CSRF-Token": good})
    assert answer.status_code == 303 and not operator.signed_in


def test_csrf_refusal_also_holds_without_a_session(console_url: str) -> None:
    with httpx.Client(base_url=console_url, timeout=20) as anonymous:
        for route in (r for r in console_routes() if r.method in STATE_CHANGING):
            answer = anonymous.request(route.method, route.fill("sec-x1"), data={})
            assert answer.status_code == 403, (route, answer.status_code)


def test_every_get_route_answers_with_the_strict_csp_and_never_a_500(
    console_url: str, gateway: httpx.Client
) -> None:
    operator = sign_in(console_url, *walker(gateway, role="admin"))
    gets = [r for r in console_routes() if r.method == "GET"]
    anonymous = httpx.Client(base_url=console_url, timeout=20)
    odd = ("sec-x1", "%3Cscript%3E", "..%2F..%2Fetc", "9" * 300, "%E4%BD%A0")
    for route in gets:
        for value in odd if route.params else ("",):
            for query in ("", "?page_token=%3Cscript%3E&from=yesterday&to=1&group_by=x&page_size=-1"):
                url = route.fill(value) + query
                for client in (operator.client, anonymous):
                    answer = client.get(url)
                    assert answer.status_code < 500, (url, answer.status_code, answer.text[:300])
                    assert "Traceback" not in answer.text
                    _csp_is_strict(answer)
    for url in ("/static/console.css", "/static/console.js", "/no-such-page", "/static/missing.js"):
        _csp_is_strict(operator.client.get(url))


def test_operator_written_text_is_escaped_on_every_page(
    admin_walk: Walk, reviewer_walk: Walk, beijing: dict[str, str]
) -> None:
    shown = admin_walk.containing(beijing["marker"]) + reviewer_walk.containing(beijing["marker"])
    assert shown, "head office sees Beijing's objects somewhere (else this test proves nothing)"
    exports = 0
    for url, answer in [*admin_walk.pages.items(), *reviewer_walk.pages.items()]:
        assert answer.status_code < 500, (url, answer.status_code)
        _csp_is_strict(answer)
        if answer.headers.get("content-type", "").startswith("text/csv"):
            exports += 1
            for row in csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))):
                formulas = [c for c in row if beijing["marker"] in c and c.startswith(FORMULA_STARTS)]
                assert not formulas, f"{url} exports operator text a spreadsheet would run: {formulas}"
            continue
        for raw in RAW:
            assert raw not in answer.text, f"{url} renders operator text as markup"
    assert exports, "the walk reached the CSV exports"
    assert any(ESCAPED in admin_walk.pages[u].text for u in admin_walk.containing(beijing["marker"]))


def test_no_operator_secret_token_or_personal_number_in_pages_urls_or_logs(
    stack: Stack, admin_walk: Walk
) -> None:
    secrets = [*DEMO_OPERATOR_SECRETS.values(), admin_walk.secret]
    for url, answer in admin_walk.pages.items():
        found = findings(answer.text, url)  # customers' phone, ID-card and card numbers
        # with the text around each, so a failure shows where the number stood (an id, a time, a token)
        around = [answer.text[max(0, f.start - 80) : f.end + 80] for f in find_personal_numbers(answer.text)]
        assert found == [], around
        for text in (url, answer.text, answer.headers.get("location", ""), str(answer.headers)):
            assert not any(s in text for s in secrets), url
            assert not JWT.search(text), f"a token in {url}"
        cookie = answer.headers.get("set-cookie", "")
        if cookie:
            assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    for log in stack.log_dir.glob("*.log"):
        content = log.read_text(errors="replace")
        leaked = [s for s in secrets if s in content]
        assert not leaked, f"{log.name} logs an operator secret"
        if log.name.startswith("console"):
            assert not JWT.search(content), f"{log.name} logs a token"
            assert findings(content, log.name) == []


def test_a_branch_never_sees_another_branchs_objects(
    console_url: str, gateway: httpx.Client, admin_walk: Walk, beijing: dict[str, str]
) -> None:
    marker = beijing["marker"]
    beijing_pages = admin_walk.containing(marker)
    assert beijing_pages, "head office sees Beijing's objects"
    shanghai = sign_in(console_url, *walker(gateway, role="operator", branch="shanghai"))
    for url, answer in walk(shanghai, start=_start()).pages.items():
        assert marker not in answer.text, f"Shanghai sees Beijing's object on {url}"
    refusals = 0
    for url in beijing_pages:  # the same URLs, typed by hand
        answer = shanghai.client.get(url)
        assert marker not in answer.text, f"a hand-edited {url} shows Beijing's object to Shanghai"
        assert answer.status_code < 500
        if answer.status_code in (403, 404):
            assert 'data-testid="problem"' in answer.text and "trace-link" in answer.text, url
            refusals += 1
    assert refusals, "some of Beijing's object pages are refused to Shanghai with the API's problem"


def test_a_branch_cannot_change_another_branchs_objects_by_forged_posts(
    console_url: str, gateway: httpx.Client, beijing: dict[str, str]
) -> None:
    """Every state-changing route about an object, posted by Shanghai with a valid token at Beijing's ids."""
    before = state_of(gateway, beijing)
    shanghai = sign_in(console_url, *walker(gateway, role="operator", branch="shanghai"))
    token, refused = shanghai.csrf, 0
    ids = [beijing[key] for key in READS]
    for route in (r for r in console_routes() if r.method == "POST" and r.params):
        if not set(route.params) <= {*READS, *CHOICES, "object_id"}:
            continue  # head office's own settings (partners, policy, dead letters): role-checked elsewhere
        fills = [dict.fromkeys(route.params, "")]
        for name in route.params:
            values = CHOICES.get(name) or ([beijing[name]] if name in beijing else ids)
            fills = [{**f, name: v} for f in fills for v in values]
        for fill in fills:
            url = route.path.format(**fill)
            answer = shanghai.client.post(url, data={"csrf_token": token, **FORGED_FORM})
            assert answer.status_code < 500, (url, answer.status_code)
            assert beijing["marker"] not in answer.text, f"{url} shows Beijing's object to Shanghai"
            refused += answer.status_code in (403, 404) and 'data-testid="problem"' in answer.text
    assert refused, "the API's refusals came back as problem pages"
    assert state_of(gateway, beijing) == before, "a forged post changed one of Beijing's objects"
