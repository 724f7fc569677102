"""Runs one scenario against one target: the load in its own process, server CPU from /proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from tools.bench.drain import Drained, drain
from tools.bench.scenario import RequestFactory, Scenario
from tools.bench.wrk import run_wrk, suits_wrk, wrk_binary

ROOT = Path(__file__).resolve().parents[2]
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class LoadOptions:
    concurrency: int = 16
    warmup_s: float = 2.0
    duration_s: float = 10.0
    max_requests: int = 200_000
    timeout_s: float = 5.0
    load: str = "auto"
    rate_rps: float = 0.0  # with load "fixed": open-loop requests per second
    # read the CPU once the system is idle again (consumers caught up), not when the load stops
    drain: bool = True
    drain_timeout_s: float = 60.0


@dataclass
class Target:
    """Where the load goes and which server processes (name -> pid) serve it."""

    base_url: str
    pids: dict[str, int]
    nats_url: str = ""  # the system's NATS, whose consumers must catch up before the CPU is read


def descendants(pid: int) -> list[int]:
    """The process's children, theirs and so on (a gateway's worker processes)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its live descendants have used so far."""
    total = 0.0
    for one in (pid, *descendants(pid)):
        try:
            stat = Path(f"/proc/{one}/stat").read_text()
        except FileNotFoundError:  # exited between the listing and the read
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def cpu_snapshot(target: Target) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in target.pids.items()}


def settle(target: Target, *, timeout_s: float = 60.0) -> float:
    """Wait until the target's system is idle (tools/bench/drain.py): the background work a previous
    scenario left (the click events a redirect run queued for conversion's consumers) would otherwise
    be counted in the next scenario's CPU per request and slow it. Returns the seconds waited."""
    return drain_target(target, timeout_s=timeout_s).seconds


def drain_target(target: Target, *, timeout_s: float = 60.0) -> Drained:
    """Every consumer of the target's streams caught up and its processes' CPU settled."""
    return drain(lambda: cpu_snapshot(target), target.nats_url, timeout_s=timeout_s)


def choose_load(scenario: Scenario, params: dict[str, Any], options: LoadOptions) -> str:
    """`wrk` when asked for (or `auto` and installed) and the scenario's requests expect 2xx/3xx (wrk
    replays a pool of them made up front); else `python`, which alone checks other statuses and paces
    an open-loop fixed rate."""
    if options.load in ("python", "fixed") or wrk_binary() is None:
        return "python"
    factory = scenario.requests(params)
    return "wrk" if suits_wrk([factory(i) for i in range(64)]) else "python"


def _python_load(
    module: str, scenario: Scenario, params: dict[str, Any], target: Target, options: LoadOptions
) -> tuple[dict[str, Any], dict[str, float]]:
    spec = {
        **asdict(options),
        "module": module,
        "scenario": scenario.name,
        "params": params,
        "base_url": target.base_url,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.load", f.name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    before: dict[str, float] = {}
    last = ""
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "WARM":
                before = cpu_snapshot(target)
            elif line.strip():
                last = line
        proc.wait(timeout=options.warmup_s + options.duration_s + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.unlink(f.name)
    if proc.returncode != 0 or not before:
        raise RuntimeError(f"load generator failed for {scenario.name} (exit {proc.returncode})")
    return json.loads(last), before


def answers_of(base_url: str, factory: RequestFactory, timeout_s: float, count: int = 3) -> list[str]:
    """What the target answers to a few fresh requests of the factory (past any pool wrk sent):
    wrk counts non-2xx/3xx answers but does not say which status they were."""
    samples = []
    with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
        for i in range(10**6, 10**6 + count):
            r = factory(i)
            try:
                answer = client.request(r.method, r.path, headers=r.headers, content=r.body)
            except httpx.HTTPError as exc:
                samples.append(f"{r.method} {r.path} -> {type(exc).__name__}: {exc}")
                continue
            samples.append(f"{r.method} {r.path} -> {answer.status_code} {answer.text[:200]}")
    return samples


def measure(
    module: str, scenario: Scenario, params: dict[str, Any], target: Target, options: LoadOptions
) -> dict[str, Any]:
    """Throughput, latency and server CPU per request of one scenario."""
    load = choose_load(scenario, params, options)
    if load == "wrk":
        before: dict[str, float] = {}
        factory = scenario.requests(params)
        result = run_wrk(
            target.base_url,
            factory,
            concurrency=options.concurrency,
            warmup_s=options.warmup_s,
            duration_s=options.duration_s,
            timeout_s=options.timeout_s,
            on_warm=lambda: before.update(cpu_snapshot(target)),
        )
        if result["errors"]:
            result["error_samples"] += answers_of(target.base_url, factory, options.timeout_s)
    else:
        result, before = _python_load(module, scenario, params, target, options)
    at_load_end = cpu_snapshot(target)
    drained: dict[str, Any] = {}
    after = at_load_end
    if options.drain:
        idle = drain_target(target, timeout_s=options.drain_timeout_s)
        drained, after = idle.as_result(), idle.cpu_at_idle
    requests = max(result["requests"], 1)

    def per_request(until: dict[str, float]) -> dict[str, float]:
        return {name: round((until[name] - before[name]) * 1000 / requests, 4) for name in target.pids}

    by_process, by_process_at_end = per_request(after), per_request(at_load_end)
    return {
        "name": scenario.name,
        "description": scenario.description,
        "target": scenario.target,
        **result,
        "cpu_ms_per_request": round(sum(by_process.values()), 4),
        "cpu_ms_per_request_by_process": by_process,
        # what the CPU figures were when the load stopped, before the consumers caught up
        "cpu_ms_per_request_at_load_end": round(sum(by_process_at_end.values()), 4),
        "cpu_ms_per_request_by_process_at_load_end": by_process_at_end,
        **drained,
    }
