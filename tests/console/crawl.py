"""Plain-HTTP helpers for the console's security tests: sign in as an operator, enumerate the routes the
console app declares, and walk every page reachable from the navigation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from fastapi.routing import APIRoute

from console.app import create_app
from console.session import COOKIE
from services.identity.demo_data import DEMO_OPERATOR_SECRETS

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
HREF = re.compile(r'href="([^"]+)"')
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# following these would end the walk's own session or leave the console
NOT_WALKED = ("/sign-out", "/sign-in", "/static/", "/healthz", "/language")


@dataclass
class Operator:
    """A console session of one demo operator over plain HTTP."""

    client: httpx.Client
    operator_id: str

    @property
    def csrf(self) -> str:
        page = self.client.get("/")
        found = META_CSRF.search(page.text) or CSRF.search(page.text)
        assert found, "a signed-in page carries the CSRF token"
        return found.group(1)

    @property
    def signed_in(self) -> bool:
        answer = self.client.get("/")
        return answer.status_code == 200 and "/sign-in" not in answer.headers.get("location", "")


def sign_in(console_url: str, operator_id: str, secret: str | None = None) -> Operator:
    """Sign in through the real form (its CSRF token included); the client keeps the session cookie."""
    client = httpx.Client(base_url=console_url, timeout=30, follow_redirects=False)
    form = client.get("/sign-in")
    token = CSRF.search(form.text)
    assert token, "the sign-in form carries a CSRF token"
    answer = client.post(
        "/sign-in",
        data={
            "csrf_token": token.group(1),
            "operator_id": operator_id,
            "secret": secret or DEMO_OPERATOR_SECRETS[operator_id],
            "next": "/",
        },
    )
    assert answer.status_code == 303, answer.text
    assert COOKIE in client.cookies
    return Operator(client, operator_id)


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    params: tuple[str, ...]

    def fill(self, value: str) -> str:
        """The path with every parameter set to `value`."""
        path = self.path
        for name in self.params:
            path = re.sub(r"\{" + name + r"(:[^}]*)?\}", value, path)
        return path


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (inner := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(inner.routes)  # FastAPI includes page routers lazily


def console_routes() -> list[Route]:
    """Every (path, method) the console app serves, as the app itself declares them (also routes
    left out of its OpenAPI), with its OpenAPI as a cross-check that the walk found them all."""
    app = create_app()
    pairs = {(r.path, m) for r in _api_routes(app.routes) for m in r.methods}
    documented = {(p, m.upper()) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= pairs, documented - pairs
    return [Route(p, m, tuple(re.findall(r"\{([^}:]+)", p))) for p, m in sorted(pairs)]


def nav_paths() -> list[str]:
    """The paths of the navigation's entries."""
    return [entry.path for entry in create_app().state.nav]


@dataclass
class Walk:
    """What a walk fetched: url -> (status, headers, body)."""

    pages: dict[str, httpx.Response] = field(default_factory=dict)
    secret: str = ""  # the walking operator's own secret, which no page may show

    def containing(self, text: str) -> list[str]:
        return [url for url, answer in self.pages.items() if text in answer.text]


def links(page: httpx.Response) -> Iterator[str]:
    """Same-origin page links of an HTML answer (no static files, no sign-out)."""
    base = str(page.request.url)
    for href in HREF.findall(page.text):
        target = urljoin(base, unescape(href))
        parts = urlsplit(target)
        if parts.netloc != urlsplit(base).netloc or parts.path.startswith(NOT_WALKED):
            continue
        yield parts.path + (f"?{parts.query}" if parts.query else "")


def walk(operator: Operator, *, start: list[str], limit: int = 250, depth: int = 2) -> Walk:
    """Breadth-first GETs from `start` along same-origin links, at most `limit` pages."""
    seen, result = set(start), Walk()
    frontier = list(start)
    for _ in range(depth + 1):
        following: list[str] = []
        for url in frontier:
            if len(result.pages) >= limit:
                return result
            answer = operator.client.get(url)
            # the gateway's per-operator quota (600 ops requests a minute) must not thin the walk out
            assert answer.status_code != 429, f"{operator.operator_id} hit the API's rate limit at {url}"
            result.pages[url] = answer
            if answer.headers.get("content-type", "").startswith("text/html"):
                for link in links(answer):
                    if link not in seen:
                        seen.add(link)
                        following.append(link)
        frontier = following
    return result
