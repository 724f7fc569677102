"""Every `make bench` scenario gets the answer it expects: one system started as the bench starts it
(demo data, the console), each scenario's own setup with the smallest data, and its own request
factory's requests sent once. A route, message or rule that changed under a scenario fails here,
not on a bench night (where it showed as every request of the scenario counted an error)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tools.bench.scenario import discover, run_setup
from tools.bench.system import BenchSystem, bench_system
from tools.bench.wrk import WARMUP_POOL_RPS

# where wrk's measured pool starts after the default 2 s warm-up: the requests built there must not
# reuse what the warm-up's requests used up (one-time tickets, nonces, idempotency keys)
MEASURED_FROM = int(WARMUP_POOL_RPS * math.ceil(2.0))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchSystem]:
    with bench_system(Path(tmp_path_factory.mktemp("bench-scenarios")), console=True) as running:
        yield running


def test_every_scenario_answers_its_expected_status(system: BenchSystem) -> None:
    ctx = replace(system.ctx, smoke=True)
    scenarios = discover()
    wrong: dict[str, str] = {}
    with (
        httpx.Client(base_url=ctx.gateway_url, timeout=30) as gateway,
        httpx.Client(base_url=ctx.console_url, timeout=30) as console,
    ):
        for name, (_module, scenario) in scenarios.items():
            # the load process gets the params as JSON
            params = json.loads(json.dumps(run_setup(scenario, ctx)))
            factory = scenario.requests(params)
            client = console if scenario.target == "console" else gateway
            for i in (0, MEASURED_FROM):
                request = factory(i)
                answer = client.request(
                    request.method, request.path, headers=request.headers, content=request.body
                )
                if answer.status_code not in request.expect:
                    wrong[f"{name}[{i}]"] = (
                        f"{request.method} {request.path} -> {answer.status_code} {answer.text[:300]}"
                    )
    assert len(scenarios) >= 20, sorted(scenarios)
    assert not wrong, json.dumps(wrong, indent=1)
