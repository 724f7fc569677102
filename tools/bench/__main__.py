"""`make bench`: the running system against two baselines, with the load from a separate process.

Starts the baselines (a bare FastAPI JSON endpoint; a FastAPI endpoint making one grpc.aio call to
an echo server) and measures them, then starts the whole system (tools.stack, demo data
loaded) and measures every scenario of tools/bench/scenarios/. Prints a markdown table and writes
bench/results/latest.json. Exit status 1 when any request failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.grpc_client import open_sync_channel
from services.runtime.pki import ServiceIdentity
from tools.bench.baselines import BASELINES
from tools.bench.extras import event_to_inbox_latency, jetstream_publish_baseline, sqlmodel_insert_baseline
from tools.bench.journey import measure_journeys
from tools.bench.report import markdown, scaling_row, with_ratios, write_results
from tools.bench.runner import ROOT, LoadOptions, Target, measure, settle
from tools.bench.sampling import SAMPLING, described, parse_modes, sampled_row
from tools.bench.scenario import discover, run_setup
from tools.bench.soak import MIX as HOT_PATHS
from tools.bench.soak import soak
from tools.bench.system import bench_system
from tools.bench.wrk import wrk_binary
from tools.stack import Process, Stack, StackConfig, free_ports, stop_on_sigterm, wait_http, wait_until


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each measurement"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--max-requests", type=int, default=200_000, help="request cap per phase")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-request timeout (s)")
    parser.add_argument(
        "--load",
        choices=("auto", "python", "wrk"),
        default="auto",
        help="load generator: wrk for one-request scenarios when installed (auto), or always python",
    )
    parser.add_argument(
        "--scenarios", default="", help="comma-separated scenario names or groups (default: all)"
    )
    parser.add_argument(
        "--journeys", type=int, default=12, help="journeys for the journey measurement (0: skip)"
    )
    parser.add_argument(
        "--fixed-rate",
        type=float,
        default=100.0,
        help="open-loop req/s of the fixed-rate comparison (0: skip)",
    )
    parser.add_argument(
        "--fixed-rate-scenarios",
        default="conversion.redirect",
        help="scenarios also measured at the fixed rate, beside both baselines at the same rate",
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="gateway worker processes: the first count runs every scenario; each further count "
        "(e.g. 1,2) runs the scaling scenarios again, reported as scaling with workers: with their "
        "edge state in the SQLite file and, when REDIS_URL is set, again in Redis",
    )
    parser.add_argument(
        "--scaling-scenarios",
        default="conversion.redirect,edge.app_token,edge.partner_signed,content.serve_10",
        help="scenarios measured again at each further worker count",
    )
    parser.add_argument(
        "--trace-sampling",
        default="all",
        help="the system's trace sampling: all (every trace kept), production (parent-based, 5%% of the "
        "traces the gateway starts) or both (all,production): the first runs every scenario, a further "
        "one the sampling scenarios again, reported against the first",
    )
    parser.add_argument(
        "--sampling-scenarios",
        default=",".join(HOT_PATHS),
        help="scenarios measured again under each further trace sampling",
    )
    parser.add_argument(
        "--soak", type=float, default=0.0, help="seconds of the memory soak (fixed-rate mix; 0: skip)"
    )
    parser.add_argument("--soak-rate", type=float, default=50.0, help="req/s of the memory soak")
    parser.add_argument(
        "--soak-rest",
        type=float,
        default=0.0,
        help="seconds at rest after the soak before every process's RSS is read once more (0: skip)",
    )
    parser.add_argument(
        "--smallest-data",
        action="store_true",
        help="each scenario's setup at its smallest size (one customer, ...): checks a run end to end "
        "quickly; not a measurement",
    )
    parser.add_argument("--results", type=Path, default=ROOT / "bench/results/latest.json")
    args = parser.parse_args(argv)
    if args.load == "wrk" and wrk_binary() is None:
        parser.error("--load wrk: wrk is not installed (apt-get install wrk)")
    try:
        args.trace_sampling = parse_modes(args.trace_sampling)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def selected(selection: str) -> dict[str, tuple[str, Any]]:
    found = discover()
    wanted = [s for s in selection.split(",") if s]
    chosen = {n: v for n, v in found.items() if not wanted or n in wanted or n.split(".")[0] in wanted}
    if not chosen:
        raise SystemExit(f"no scenario matches {selection!r}; known: {', '.join(found)}")
    return chosen


def _pid(proc: Process) -> int:
    assert proc.popen is not None, f"{proc.name} was not started"
    return proc.popen.pid


def _wait_grpc(addr: str, proc: Process, identity: ServiceIdentity) -> None:
    with open_sync_channel(addr, peer="identity", identity=identity) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            stub.Check(health_pb2.HealthCheckRequest(), timeout=1)  # type: ignore[attr-defined]  # the stubs' HealthStub declares no RPC methods
            return True

        failure = f"{proc.name} did not serve gRPC on {addr}"
        wait_until(proc, serving, timeout=30, errors=(grpc.RpcError,), failure=failure, pause=0.1)


def run_baselines(
    work: Path, options: LoadOptions, loads: list[str], fixed: LoadOptions
) -> dict[str, dict[str, dict[str, Any]]]:
    """Measure both baselines with each load generator in use; the servers stop afterwards."""
    supervisor = Stack(StackConfig(var_dir=work))
    tools_identity = supervisor.identity()  # creates the PKI the baselines' gRPC ends use
    env = supervisor.base_env()
    ports = dict(zip(("bare", "echo", "grpc"), free_ports(3), strict=True))
    cmd = [sys.executable, "-m", "tools.bench.baselines"]
    procs = {
        "bare": Process("baseline-bare", [*cmd, "bare", str(ports["bare"])], env, work / "logs"),
        "echo": Process("baseline-echo", [*cmd, "echo", str(ports["echo"])], env, work / "logs"),
        "grpc": Process(
            "baseline-grpc",
            [*cmd, "grpc", str(ports["grpc"]), f"127.0.0.1:{ports['echo']}"],
            env,
            work / "logs",
        ),
    }
    try:
        for proc in procs.values():
            proc.start()
        wait_http(f"http://127.0.0.1:{ports['bare']}/json", procs["bare"], timeout=30)
        _wait_grpc(f"127.0.0.1:{ports['echo']}", procs["echo"], tools_identity)
        wait_http(f"http://127.0.0.1:{ports['grpc']}/echo", procs["grpc"], timeout=30)
        targets = {
            "bare": Target(f"http://127.0.0.1:{ports['bare']}", {"bare": _pid(procs["bare"])}),
            "grpc": Target(
                f"http://127.0.0.1:{ports['grpc']}",
                {"fastapi": _pid(procs["grpc"]), "echo": _pid(procs["echo"])},
            ),
        }
        measured: dict[str, dict[str, dict[str, Any]]] = {}
        for load in loads:
            forced = fixed if load == "fixed" else LoadOptions(**{**asdict(options), "load": load})
            measured[load] = {
                name: measure("tools.bench.baselines", scenario, {}, targets[name], forced)
                for name, scenario in BASELINES.items()
            }
        return measured
    finally:
        for proc in procs.values():
            proc.stop()


def run_system(
    work: Path,
    chosen: dict[str, tuple[str, Any]],
    options: LoadOptions,
    *,
    journeys: int,
    fixed_rate: set[str],
    fixed: LoadOptions,
    env: dict[str, str] | None = None,
    in_process_baselines: bool = True,
    smallest_data: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[dict[str, Any]]]:
    """Start the whole system, run every chosen scenario (and the journey) against it, stop it."""
    console = any(scenario.target == "console" for _, scenario in chosen.values())
    with bench_system(work, console=console, env=env) as system:
        ctx = replace(system.ctx, smoke=smallest_data)
        pids = system.pids()
        nats_url = system.stack.config.nats_url
        targets = {
            "gateway": Target(ctx.gateway_url, pids, nats_url),
            "console": Target(ctx.console_url, pids, nats_url),
        }
        extras = []
        if in_process_baselines:
            extras += [
                sqlmodel_insert_baseline(work),
                jetstream_publish_baseline(system.stack.config.nats_url),
            ]
        if any(name.startswith("reach.") for name in chosen):
            # before the load scenarios, so that no backlog of their events sits in front of it
            extras.append(event_to_inbox_latency(ctx))
        results = []
        for name, (module, scenario) in chosen.items():
            print(f"  {name} ...", file=sys.stderr, flush=True)
            try:
                params = run_setup(scenario, ctx)
            except grpc.RpcError as exc:  # an overloaded machine: the others are still measured
                print(f"  {name}: setup failed ({exc.code()}), not measured", file=sys.stderr, flush=True)
                continue
            target = targets[scenario.target]
            waited = settle(target)
            results.append({**measure(module, scenario, params, target, options), "settled_s": waited})
            if name in fixed_rate:
                waited = settle(target)
                results.append({**measure(module, scenario, params, target, fixed), "settled_s": waited})
        journey = None
        if journeys:
            print("  journey ...", file=sys.stderr, flush=True)
            journey = measure_journeys(ctx.gateway_url, system.receiver, journeys=journeys)
        return results, journey, extras


def edge_store(workers: int, redis_url: str) -> str:
    """Where a gateway of `workers` processes keeps its edge state (GatewaySettings.edge_store_kind)."""
    if redis_url:
        return "redis"
    return "sqlite" if workers > 1 or os.environ.get("EDGE_STORE") == "sqlite" else "memory"


def measure_scaling(
    work: Path,
    args: argparse.Namespace,
    options: LoadOptions,
    workers: list[int],
    first: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The scaling scenarios again with each further gateway worker count, against the first run:
    workers without Redis share the SQLite file; with REDIS_URL set, each count runs again on Redis,
    as production's workers would."""
    chosen = selected(args.scaling_scenarios)
    base = {r["name"]: r for r in first if r["load"] != "fixed"}
    redis_url = os.environ.get("REDIS_URL", "")
    store = edge_store(workers[0], redis_url)
    rows = [scaling_row(base[name], workers[0], store, base[name]) for name in chosen if name in base]
    measured = {(workers[0], store)}
    for count in workers[1:]:
        for url in dict.fromkeys(("", redis_url)):
            store = edge_store(count, url)
            if (count, store) in measured:
                continue
            measured.add((count, store))
            print(f"bench: system with {count} gateway workers, edge state in {store}", file=sys.stderr)
            results, _, _ = run_system(
                work / f"w{count}-{store}",
                chosen,
                options,
                journeys=0,
                fixed_rate=set(),
                fixed=options,
                env={"WORKERS": str(count), "REDIS_URL": url, **SAMPLING[args.trace_sampling[0]]},
                in_process_baselines=False,
                smallest_data=args.smallest_data,
            )
            rows += [scaling_row(r, count, store, base.get(r["name"])) for r in results]
    return rows


def measure_sampling(
    work: Path, args: argparse.Namespace, options: LoadOptions, workers: int, first: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The sampling scenarios again on a system with each further trace sampling, against the first run."""
    chosen = selected(args.sampling_scenarios)
    base = {(r["name"], r["load"]): r for r in first}
    rows = []
    for mode in args.trace_sampling[1:]:
        print(f"bench: system with {described(mode)['description']}", file=sys.stderr, flush=True)
        results, _, _ = run_system(
            work / f"sampling-{mode}",
            chosen,
            options,
            journeys=0,
            fixed_rate=set(),
            fixed=options,
            env={"WORKERS": str(workers), **SAMPLING[mode]},
            in_process_baselines=False,
            smallest_data=args.smallest_data,
        )
        rows += [sampled_row(r, mode, base.get((r["name"], r["load"]))) for r in results]
    return rows


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    options = LoadOptions(
        concurrency=args.concurrency,
        warmup_s=args.warmup,
        duration_s=args.duration,
        max_requests=args.max_requests,
        timeout_s=args.timeout,
        load=args.load,
    )
    fixed = LoadOptions(**{**asdict(options), "load": "fixed", "rate_rps": args.fixed_rate})
    chosen = selected(args.scenarios)
    loads = ["python"] if args.load == "python" or wrk_binary() is None else ["python", "wrk"]
    if args.fixed_rate > 0:
        loads.append("fixed")
    fixed_rate = set(args.fixed_rate_scenarios.split(",")) if args.fixed_rate > 0 else set()
    workers = [int(n) for n in args.workers.split(",") if n]
    sampling = args.trace_sampling
    more: dict[str, Any] = {"workers": workers[0], "trace_sampling": described(sampling[0])}
    with tempfile.TemporaryDirectory(prefix="lattice-bench-") as tmp:
        print("bench: baselines", file=sys.stderr, flush=True)
        baselines = run_baselines(Path(tmp), options, loads, fixed)
        print(f"bench: system ({len(chosen)} scenarios, {workers[0]} gateway worker(s))", file=sys.stderr)
        scenarios, journey, extras = run_system(
            Path(tmp) / "w1",
            chosen,
            options,
            journeys=args.journeys,
            fixed_rate=fixed_rate,
            fixed=fixed,
            env={"WORKERS": str(workers[0]), **SAMPLING[sampling[0]]},
            smallest_data=args.smallest_data,
        )
        scenarios = [{**r, "trace_sampling": sampling[0]} for r in scenarios]
        # a system that fails to start for these keeps the figures measured so far
        if workers[1:]:
            try:
                more["scaling"] = measure_scaling(Path(tmp), args, options, workers, scenarios)
            except (RuntimeError, TimeoutError) as exc:
                more["scaling_error"] = str(exc)
        if sampling[1:]:
            try:
                rows = measure_sampling(Path(tmp), args, options, workers[0], scenarios)
                more["sampled"] = with_ratios(rows, baselines)
            except (RuntimeError, TimeoutError) as exc:
                more["sampling_error"] = str(exc)
        if args.soak > 0:
            print("bench: memory soak", file=sys.stderr, flush=True)
            try:
                more["soak"] = soak(
                    Path(tmp) / "soak", seconds=args.soak, rate=args.soak_rate, rest_s=args.soak_rest
                )
            except (RuntimeError, TimeoutError) as exc:
                more["soak_error"] = str(exc)
    document = write_results(
        args.results,
        options=asdict(options),
        baselines=baselines,
        scenarios=scenarios,
        journey=journey,
        extras=extras,
        more=more,
    )
    print(markdown(document))
    print(f"\nresults: {args.results}")
    measured = [*scenarios, *(b for m in baselines.values() for b in m.values())]
    measured += more.get("scaling", []) + more.get("sampled", [])
    failed = list(dict.fromkeys(r["name"] for r in measured if r["errors"]))
    if failed:
        print(f"requests failed in: {', '.join(failed)}", file=sys.stderr)
        samples = [f"  {r['name']}: {s}" for r in measured if r["errors"] for s in r["error_samples"][:3]]
        print(*dict.fromkeys(samples), sep="\n", file=sys.stderr)
    errors = ("scaling_error", "sampling_error", "soak_error")
    broken = [f"{key}: {more[key]}" for key in errors if key in more]
    for line in broken:
        print(line, file=sys.stderr)
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
