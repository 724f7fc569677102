"""What a benchmark scenario is: the interface every scenario module in tools/bench/scenarios/ follows."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from services.runtime.grpc_client import open_channel
from services.runtime.pki import load_identity


@dataclass(frozen=True)
class Request:
    """One HTTP request of the load; `expect` lists the statuses that count as success."""

    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    expect: tuple[int, ...] = (200,)


def json_request(
    method: str,
    path: str,
    payload: object,
    *,
    headers: dict[str, str] | None = None,
    expect: tuple[int, ...] = (200, 201),
) -> Request:
    """A request with a JSON body."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Request(method, path, {"content-type": "application/json", **(headers or {})}, body, expect)


# factory(i) builds the i-th request of a run (i counts from 0 across all workers of the load process)
RequestFactory = Callable[[int], Request]


@dataclass
class BenchContext:
    """What a scenario's setup gets: where the running system is."""

    gateway_url: str
    addrs: dict[str, str]
    var_dir: Path
    console_url: str = ""  # set when a chosen scenario targets the console
    smoke: bool = False  # the smallest data: one request of each scenario is checked, nothing measured

    def size(self, full: int, smallest: int = 1) -> int:
        """How many of something (customers, seeded rows) a setup makes: `full`, or the smallest
        number that still exercises the same path when the run only checks the answers."""
        return smallest if self.smoke else full

    def channel(self, service: str, *, default_timeout_s: float = 5.0) -> grpc.aio.Channel:
        """A mutual-TLS channel to `service` as the bank's tools (for setting up test data)."""
        identity = load_identity("tools", (self.var_dir / "pki").resolve())
        return open_channel(
            self.addrs[service], peer=service, identity=identity, default_timeout_s=default_timeout_s
        )


@dataclass(frozen=True)
class Scenario:
    """A named load against the running system.

    `setup(ctx)` (optional, sync or async) runs once in the harness before the load and returns
    JSON-serialisable params (ids, tokens, secrets of test data it created through gRPC or HTTP).
    `requests(params)` runs in the separate load process and returns the request factory. Both must
    be module-level functions so the load process can import them again.
    """

    name: str
    description: str
    requests: Callable[[dict[str, Any]], RequestFactory]
    setup: Callable[[BenchContext], dict[str, Any] | Awaitable[dict[str, Any]]] | None = None
    target: str = "gateway"


def run_setup(scenario: Scenario, ctx: BenchContext) -> dict[str, Any]:
    """The scenario's params (awaiting an async setup)."""
    if scenario.setup is None:
        return {}
    params = scenario.setup(ctx)
    if inspect.isawaitable(params):
        params = asyncio.run(_await(params))
    json.dumps(params)
    return dict(params)


async def _await(awaitable: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    return await awaitable


def discover() -> dict[str, tuple[str, Scenario]]:
    """Every scenario of tools/bench/scenarios/*.py: name -> (module, scenario)."""
    from tools.bench import scenarios

    found: dict[str, tuple[str, Scenario]] = {}
    for info in sorted(pkgutil.iter_modules(scenarios.__path__), key=lambda m: m.name):
        module = f"{scenarios.__name__}.{info.name}"
        for scenario in getattr(importlib.import_module(module), "SCENARIOS", []):
            if scenario.name in found:
                raise ValueError(f"scenario {scenario.name} is defined twice")
            found[scenario.name] = (module, scenario)
    return found


def load_scenario(module: str, name: str) -> Scenario:
    """The scenario `name` of `module` (in the load process)."""
    for scenario in importlib.import_module(module).SCENARIOS:
        if scenario.name == name:
            return scenario
    raise LookupError(f"no scenario {name} in {module}")
