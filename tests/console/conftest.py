"""The console against the real system: the shared stack, the console process and Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from services.identity.demo_data import DEMO_OPERATOR_SECRETS, DEMO_OPERATORS
from tools.stack import Stack, free_port

CHROMIUM = os.environ.get("LATTICE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-extensions"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/console/" in str(item.fspath) and "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Chromium through Playwright (make browser installs it)"
    )


@pytest.fixture(scope="session")
def console_url(stack: Stack) -> str:
    """The console process of the shared system (stopped with it)."""
    if "console" not in stack.processes:
        stack.start_console()
        stack.wait_console()
    return stack.config.console_url


@pytest.fixture
def start_console(stack: Stack) -> Iterator[Callable[..., str]]:
    """A console of the test's own (e.g. short session expiry): `url = start_console(CONSOLE_X="...")`."""
    started: list[str] = []

    def start(**env: str) -> str:
        port = free_port()
        name = f"console-{port}"
        stack.start_console(name=name, port=port, env=env)
        started.append(name)
        stack.wait_console(name=name, port=port)
        return f"http://127.0.0.1:{port}"

    yield start
    for name in started:
        stack.processes.pop(name).stop()


@pytest.fixture(scope="module")
def browser(console_url: str) -> Iterator[object]:
    """Headless Chromium from the Debian package; a machine without it fails with the command to fix it.

    One per module, started after the system: Playwright's sync API marks an asyncio loop as running in
    this thread while it lives, so nothing may call asyncio.run (the demo loader, other suites) meanwhile.
    """
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, console_url: str) -> Iterator[Callable[..., object]]:
    """`page = new_page()`: a fresh browser context (own cookies) on the console; CSP violations collected."""
    contexts = []

    def make(base_url: str = console_url, locale: str = "zh-CN") -> object:
        context = browser.new_context(
            base_url=base_url, locale=locale, viewport={"width": 1400, "height": 900}
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.csp_violations = []
        page.on(
            "console",
            lambda msg: (
                page.csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, operator_id: str, secret: str | None = None, next_path: str = "/") -> None:
    """Sign in through the form as a demo operator (or with the given secret)."""
    page.goto(f"/sign-in?next={next_path}")
    page.fill("#operator_id", operator_id)
    page.fill("#secret", secret if secret is not None else DEMO_OPERATOR_SECRETS[operator_id])
    page.click("button[type=submit].primary")
    page.wait_for_load_state("domcontentloaded")


@pytest.fixture
def operator_page(new_page) -> Callable[[str], object]:
    """`page = operator_page("hq-reviewer")`: a browser signed in as that demo operator."""

    def make(operator_id: str) -> object:
        assert operator_id in DEMO_OPERATORS, operator_id
        page = new_page()
        sign_in(page, operator_id)
        return page

    return make


@pytest.fixture
def admin_page(operator_page):
    return operator_page("hq-admin")


@pytest.fixture
def reviewer_page(operator_page):
    return operator_page("hq-reviewer")


@pytest.fixture
def hq_operator_page(operator_page):
    return operator_page("hq-operator")


@pytest.fixture
def viewer_page(operator_page):
    return operator_page("hq-viewer")


@pytest.fixture
def sh_operator_page(operator_page):
    return operator_page("sh-operator")


@pytest.fixture
def bj_operator_page(operator_page):
    return operator_page("bj-operator")


@pytest.fixture
def console_http(console_url: str) -> Iterator[httpx.Client]:
    """Plain HTTP to the console (no browser): headers, refusals, redirects."""
    with httpx.Client(base_url=console_url, timeout=20, follow_redirects=False) as client:
        yield client


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot to docs/console/<name>.png (the docs show what the tests saw)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
