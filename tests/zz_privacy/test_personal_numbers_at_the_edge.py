"""Property: a personal number in any inbound field of any route is refused at the edge and leaves no
trace. Every route and every string or integer field, query, path and header parameter of the
gateway's OpenAPI gets generated phone, ID-card and card numbers (every written form) with valid
credentials for the route's caller; the answer is 422 `personal_data_not_allowed` naming the field and
never echoing it, and afterwards no generated number is in any log, span file or JetStream message.

Runs against a system of its own; derandomised (the same inputs on every run).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from services.runtime.personal_data import find_personal_numbers, fold
from tests.support.privacy import stream_payloads, without_trace_ids
from tests.support.system import running_system
from tests.zz_privacy.numbers import Generated, personal_numbers
from tests.zz_privacy.openapi_probes import Edge, Probe, place, pointer_of, slots, without_numbers
from tools.stack import Stack

SPAN_FLUSH_S = 5.5
EXPLORE = os.environ.get("LATTICE_FUZZ_EXPLORE") == "1"
NO_LIMITS = json.dumps({g: 1_000_000 for g in ("partner", "app", "ops", "public", "click")})
SKIPPED_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect")


@pytest.fixture(scope="module")
def edge_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, httpx.Client]]:
    env = {"ENVIRONMENT": "test", "RATE_LIMITS": NO_LIMITS, "OUTBOX_POLL_INTERVAL_S": "0.2"}
    with (
        running_system(tmp_path_factory.mktemp("pii-var"), extra_env=env) as stack,
        httpx.Client(base_url=stack.config.gateway_url, timeout=15) as client,
    ):
        yield stack, client


def number_pool(size: int = 500) -> Iterator[Generated]:
    """Generated numbers in every form, the same ones on every run, handed out in turn."""
    pool: list[Generated] = []

    @settings(
        max_examples=size,
        derandomize=not EXPLORE,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(number=personal_numbers())
    def collect(number: Generated) -> None:
        pool.append(number)

    collect()
    random.Random(12).shuffle(pool)
    return itertools.cycle(pool)


def _exercise(
    edge: Edge, document: dict[str, Any], operation: Any, numbers: Iterator[Generated]
) -> list[Probe]:
    probes: list[Probe] = []
    path, method = operation.path, operation.method.lower()

    @settings(
        max_examples=1,
        derandomize=not EXPLORE,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        # the generated request without numbers of its own, so each probe carries exactly one
        base_path = {k: without_numbers(v) for k, v in (case.path_parameters or {}).items()}
        if "app_id" in base_path:
            base_path["app_id"] = "mbank"
        base_query = {without_numbers(k): without_numbers(v) for k, v in (case.query or {}).items()}
        base_headers = {
            k: without_numbers(v) for k, v in (case.headers or {}).items() if k.lower() != "content-type"
        }
        base_body = without_numbers(case.body) if isinstance(case.body, dict | list) else None
        for where, slot in slots(document, path, method):
            number = next(numbers)
            params = {"path": dict(base_path), "query": dict(base_query)}
            headers, body = dict(base_headers), base_body
            if where == "body":
                pointer = pointer_of(slot)
                body = place(base_body if base_body is not None else {}, slot, number.text)
            else:
                pointer = f"/{slot.lower()}" if where == "header" else f"/{slot}"
                if where == "header":
                    headers = {k: v for k, v in headers.items() if k.lower() != slot.lower()}
                    headers[slot] = number.text.strip()  # header values carry no outer spaces
                else:
                    params[where][slot] = number.text
            probe = Probe(f"{method.upper()} {path}", where, pointer, number)
            edge.send(probe, method.upper(), path, params, headers, body)
            probes.append(probe)

    run()
    return probes


def _trace_texts(var_dir: Path) -> Iterator[tuple[str, str]]:
    """Every log and span line, JSON-decoded so escaped characters are read as written."""
    for path in [*(var_dir / "logs").glob("*.log"), *(var_dir / "telemetry").glob("*.spans.jsonl")]:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                yield path.name, json.dumps(json.loads(line), ensure_ascii=False)
            except ValueError:
                yield path.name, line


def test_personal_numbers_in_any_field_are_refused_and_leave_no_trace(
    edge_system: tuple[Stack, httpx.Client],
) -> None:
    stack, gateway = edge_system
    document = gateway.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path not in SKIPPED_PATHS]
    edge = Edge(gateway)
    started = time.monotonic()
    probes: list[Probe] = []
    numbers = number_pool()
    for operation in operations:
        probes += _exercise(edge, document, operation, numbers)
    # the headers and cookie the gateway reads that no OpenAPI operation declares
    for extra in _undeclared_probes(edge):
        probes.append(extra)
    elapsed = time.monotonic() - started

    exercised = {p.operation for p in probes}
    failures = [
        f"{p.operation} {p.where} {p.pointer} <- {p.number.text!r}: {p.problems}"
        for p in probes
        if p.problems
    ]
    with_fields = {
        f"{op.method.upper()} {op.path}"
        for op in operations
        if any(slots(document, op.path, op.method.lower()))
    }
    assert len(with_fields) > 50 and with_fields <= exercised, sorted(with_fields - exercised)
    assert not failures, f"{len(failures)} of {len(probes)} probes failed:\n" + "\n".join(failures[:40])

    time.sleep(SPAN_FLUSH_S)
    numbers = {p.number.digits.upper() for p in probes}
    leaks: list[str] = []
    for name, text in _trace_texts(stack.config.var_dir):
        leaks += [f"{name}: {f.label}" for f in find_personal_numbers(without_trace_ids(text))]
        bare = "".join(ch for ch in fold(text)[0] if ch not in " .-").upper()
        leaks += [f"{name}: generated {n}" for n in numbers if n in bare]
    for subject, data in stream_payloads(stack.config.nats_url):
        text = subject + data.decode("utf-8", errors="replace")
        leaks += [f"stream {subject}: {f.label}" for f in find_personal_numbers(without_trace_ids(text))]
        leaks += [f"stream {subject}: generated" for n in numbers if n in text]
    assert not leaks, "\n".join(sorted(set(leaks))[:40])
    print(f"{len(probes)} probes over {len(exercised)} operations in {elapsed:.1f} s")


def _undeclared_probes(edge: Edge) -> Iterator[Probe]:
    """X-Request-Id on an app route and the device cookie on the link redirect."""
    number = Generated("phone", "138 0013 8000", "13800138000")
    probe = Probe("GET /v1/apps/{app_id}/inbox", "header", "/x-request-id", number)
    edge.send(
        probe,
        "GET",
        "/v1/apps/{app_id}/inbox",
        {"path": {"app_id": "mbank"}, "query": {}},
        {"X-Request-Id": "req-13800138000"},
        None,
    )
    yield probe
    probe = Probe("GET /r/{code}", "cookie", "/lattice_did", number)
    edge.send(
        probe,
        "GET",
        "/r/{code}",
        {"path": {"code": "abcdefghijkl"}, "query": {}},
        {"Cookie": "lattice_did=d-13800138000-xxxxxxxx"},
        None,
    )
    yield probe
