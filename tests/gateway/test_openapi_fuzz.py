"""Property-based fuzzing of the gateway's OpenAPI with valid credentials: no 5xx, responses match the schema.

Runs against a system of its own (the fuzzer creates apps, partners and content at random).
In `make test` the examples are derandomised, so a run fails only when the code changed; `make fuzz`
explores fresh random examples, many more of them (LATTICE_FUZZ_EXAMPLES, LATTICE_FUZZ_BUDGET_S).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.gateway.openapi_callers import RouteCredentials

EXPLORE = os.environ.get("LATTICE_FUZZ_EXPLORE") == "1"
EXAMPLES_PER_OPERATION = int(os.environ.get("LATTICE_FUZZ_EXAMPLES", "4"))
TIME_BUDGET_S = float(os.environ.get("LATTICE_FUZZ_BUDGET_S", "60"))


@pytest.fixture(scope="module")
def fuzz_gateway(openapi_gateway: httpx.Client) -> httpx.Client:
    return openapi_gateway


class Caller:
    """Sends a generated case with the credentials its route group needs (partner requests signed)."""

    def __init__(self, gateway: httpx.Client) -> None:
        self.gateway = gateway
        self.credentials = RouteCredentials(gateway, app_user_id="m-1001")
        self.accepted: dict[str, int] = {"apps": 0, "ops": 0, "partner": 0, "core": 0}

    def send(self, case: Any) -> httpx.Response:
        if "app_id" in (case.path_parameters or {}):
            case.path_parameters["app_id"] = "mbank"
        kwargs = case.as_transport_kwargs(base_url=str(self.gateway.base_url).rstrip("/"))
        headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
        body = kwargs.get("content", kwargs.get("data", b""))
        if "json" in kwargs:
            body = json.dumps(kwargs["json"]).encode()
            headers["Content-Type"] = "application/json"
        if isinstance(body, dict):  # a form (the OAuth token endpoints), as the client would encode it
            body = urlencode({k: str(v) for k, v in body.items()}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if isinstance(body, str):
            body = body.encode()
        request = self.gateway.build_request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            content=body or None,
            headers=headers,
        )
        path = request.url.path
        self.credentials.apply(request, body or b"")
        response = self.gateway.send(request)
        group = path.split("/")[2] if path.startswith("/v1/") else ""
        if group in self.accepted and response.status_code not in (401, 403):
            self.accepted[group] += 1
        return response


# the documents and their pages, not operations of the API
DOCUMENTATION_ROUTES = (
    "/openapi.json",
    "/",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/v1/partner/openapi.json",
)


def served_routes(app: Any) -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) the app answers, through FastAPI's included routers."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                yield context.path, set(context.methods or ())
        elif getattr(route, "methods", None):
            yield route.path, set(route.methods)


def interleaved(operations: list[Any]) -> list[Any]:
    """One operation of each route group in turn, so that a spent time budget has still reached each."""
    groups: dict[str, list[Any]] = {}
    for operation in operations:
        groups.setdefault(
            operation.path.split("/")[2] if operation.path.startswith("/v1/") else "", []
        ).append(operation)
    return [op for batch in itertools.zip_longest(*groups.values()) for op in batch if op is not None]


def test_every_route_is_in_the_openapi_document(fuzz_gateway: httpx.Client) -> None:
    from gateway.app import create_app

    document = fuzz_gateway.get("/openapi.json").json()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", path), method)
        for path, methods in served_routes(create_app())
        if path not in DOCUMENTATION_ROUTES
        for method in methods - {"HEAD"}
    }
    assert served and served <= documented, served - documented


def test_fuzzing_finds_no_server_error_and_no_schema_violation(fuzz_gateway: httpx.Client) -> None:
    schema = schemathesis.openapi.from_dict(fuzz_gateway.get("/openapi.json").json())
    caller = Caller(fuzz_gateway)
    started = time.monotonic()
    operations = interleaved([result.ok() for result in schema.get_all_operations()])
    assert len(operations) > 10
    checks = [not_a_server_error, response_schema_conformance]
    failures: list[str] = []
    for operation in operations:
        if time.monotonic() - started > TIME_BUDGET_S:
            break

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=not EXPLORE,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            response = caller.send(case)
            case.validate_response(response, checks=checks)

        try:
            exercise()
        except Exception as exc:  # every failing operation is reported, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    # The credentials work: every route group answered beyond authentication.
    assert all(count > 0 for count in caller.accepted.values()), caller.accepted
