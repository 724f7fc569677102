"""An unknown app id is `404 app_not_found` on every `/v1/apps/{app_id}/...` route, before any token or
body is looked at: not a token problem."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from gateway.app import create_app

_PARAM = re.compile(r"\{([^}]+)\}")


def _app_routes() -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(create_app().routes):
        path = context.path or ""
        if path.startswith("/v1/apps/{app_id}"):
            for method in sorted((context.methods or set()) - {"HEAD"}):
                concrete = _PARAM.sub(lambda m: "nosuchapp" if m.group(1) == "app_id" else "x1", path)
                found.append((method, concrete))
    return found


ROUTES = _app_routes()


def test_the_enumeration_found_the_app_routes() -> None:
    assert len(ROUTES) >= 10, ROUTES


@pytest.mark.parametrize("app_id", ["nosuchapp", "lattice-ops"])
def test_unknown_apps_are_app_not_found_on_every_app_route(gateway: httpx.Client, app_id: str) -> None:
    wrong = []
    for method, path in ROUTES:
        path = path.replace("nosuchapp", app_id)
        resp = gateway.request(
            method, path, json={} if method != "GET" else None, headers={"authorization": "Bearer x.y.z"}
        )
        body = resp.json()
        if resp.status_code != 404 or body.get("code") != "app_not_found":
            wrong.append((method, path, resp.status_code, body.get("code")))
    assert not wrong, wrong
