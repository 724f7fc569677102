"""Sign-in, sign-out and session expiry in a real browser against the real system."""

from __future__ import annotations

import time

import pytest

from services.identity.demo_data import DEMO_OPERATORS
from tests.console.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_shows_the_operator_and_their_scope_then_sign_out_ends_it(new_page):
    page = new_page()
    page.goto("/")
    assert page.url.endswith("/sign-in?next=%2F") or "/sign-in" in page.url
    screenshot(page, "sign-in")
    sign_in(page, "sh-operator")
    who = page.get_by_test_id("who").inner_text()
    assert "sh-operator" in who and "shanghai" in who
    assert page.locator("nav.sidenav").count() == 1
    assert page.csp_violations == []
    screenshot(page, "home")

    page.get_by_test_id("sign-out").click()
    page.wait_for_url("**/sign-in?signed_out=1")
    page.goto("/")
    assert "/sign-in" in page.url, "a signed-out session must not reach a page"


def test_wrong_secret_is_refused_and_keeps_only_the_operator_id(new_page):
    page = new_page()
    sign_in(page, "hq-viewer", secret="not-the-secret-at-all")
    assert page.get_by_test_id("sign-in-error").is_visible()
    assert page.input_value("#operator_id") == "hq-viewer"
    assert page.input_value("#secret") == ""
    assert "not-the-secret-at-all" not in page.content()


@pytest.mark.parametrize("operator_id", sorted(DEMO_OPERATORS))
def test_every_demo_operator_can_sign_in_and_the_next_page_is_kept(new_page, operator_id):
    page = new_page()
    page.goto("/?from=test")
    sign_in(page, operator_id, next_path=page.url.split("next=", 1)[1])
    assert page.url.endswith("/?from=test")
    assert operator_id in page.get_by_test_id("who").inner_text()


def test_idle_session_expires_and_asks_to_sign_in_again(new_page, start_console):
    url = start_console(CONSOLE_IDLE_TIMEOUT_S="6")
    page = new_page(base_url=url)
    sign_in(page, "hq-viewer")
    assert page.get_by_test_id("who").is_visible()
    time.sleep(6.5)
    page.goto("/")
    assert "/sign-in" in page.url
    assert page.locator(".notice").count() == 1


def test_absolute_expiry_ends_a_busy_session(new_page, start_console):
    url = start_console(CONSOLE_ABSOLUTE_TIMEOUT_S="8", CONSOLE_IDLE_TIMEOUT_S="4")
    page = new_page(base_url=url)
    sign_in(page, "hq-viewer")
    signed_in = time.monotonic()
    while time.monotonic() - signed_in < 8.5:  # activity keeps the idle timer fresh, not the absolute one
        page.goto("/")
        if time.monotonic() - signed_in < 7:
            assert page.get_by_test_id("who").is_visible()
        time.sleep(1)
    page.goto("/")
    assert "/sign-in" in page.url


def test_signing_in_gives_a_new_session_id(new_page):
    page = new_page()
    page.goto("/sign-in")
    before = {c["name"]: c for c in page.context.cookies()}["lattice_console"]
    assert before["httpOnly"] and before["sameSite"] == "Strict"
    sign_in(page, "hq-viewer")
    after = {c["name"]: c for c in page.context.cookies()}["lattice_console"]
    assert after["value"] != before["value"], "the anonymous session id must not survive sign-in"
