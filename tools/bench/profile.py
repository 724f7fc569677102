"""`python -m tools.bench.profile`: flame graphs of the hot paths under load (py-spy, sampling).

Starts the system as `make bench` does, then for each hot-path scenario drives the load (wrk where
it fits, else the Python generator) while py-spy samples the gateway (its worker processes too) and
the service behind the path. Writes `<out>/<scenario>.<process>.svg` (flame graph) and
`<out>/<scenario>.<process>.txt` (collapsed stacks), and `<out>/shares.json`: per scenario and
process, the share of samples spent in each named part of the code (py-spy pauses the process for
each sample: exact stacks, some overhead). py-spy is a dev dependency
(`pip install py-spy`); it needs to be allowed to ptrace the processes (same user, ptrace_scope 0/1
for children started by this tool).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.bench.flamegraph import shares, write_svg
from tools.bench.runner import LoadOptions, Target, measure
from tools.bench.scenario import discover, run_setup
from tools.bench.system import bench_system
from tools.stack import stop_on_sigterm

# the hot paths of issue 15 and the service behind each
HOT_PATHS = {
    "conversion.redirect": "conversion",
    "edge.app_token": "identity",
    "content.serve_10": "content",
    "edge.partner_signed": "conversion",
    "benefits.redeem_hot": "benefits",
}
# where the time goes: a sample counts for a part when a frame of that part is on its stack (parts
# nest: a middleware's share includes everything it calls)
PARTS: dict[str, tuple[str, ...]] = {
    "event loop, native (uvloop, gRPC C core, TLS)": ("leaf:Runner.run",),
    "span export (its own thread)": ("BatchProcessor.worker",),
    "tracing middleware and spans": ("OpenTelemetryMiddleware", "trace/__init__.py", "_interceptor.py"),
    "edge store": ("policies/store", "sqlite3", "redis/"),
    "token cache": ("policies/token_cache",),
    "token verification": ("policies/tokens.py", "jwt/"),
    "partner signature": ("policies/partner_signature", "policies/signing"),
    "edge middleware": ("gateway/middleware.py",),
    "personal data guard": ("personal_data_guard",),
    "problems": ("gateway/problems.py",),
    "grpc client": ("grpc/aio", "grpc/_"),
    "nats publish": ("nats/",),
    "fastapi routing/validation": ("fastapi/routing.py", "fastapi/dependencies", "pydantic"),
    "json": ("json/", "orjson"),
    "request task (all of a request below uvicorn)": ("uvicorn/protocols",),
    "database (sqlalchemy)": ("sqlalchemy",),
    "logging": ("logging/",),
}


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def record(pid: int, seconds: float, out: Path, *, rate: int, nonblocking: bool) -> subprocess.Popen[bytes]:
    """Start sampling `pid` and its children for `seconds` into collapsed stacks at `out`."""
    cmd = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        *(["--nonblocking"] if nonblocking else []),
        "--rate",
        str(rate),
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def rerender(out: Path) -> None:
    """Redraw every flame graph of `out` and its shares from the collapsed stacks kept beside them."""
    kept = out / "shares.json"
    document = json.loads(kept.read_text()) if kept.exists() else {"scenarios": {}}
    for collapsed in sorted(out.glob("*.txt")):
        name, proc = collapsed.stem.rsplit(".", 1)
        stacks = write_svg(collapsed, collapsed.with_suffix(".svg"), title=f"{name}: {proc}")
        entry = document["scenarios"].setdefault(name, {})
        entry[proc] = shares(stacks, PARTS)
        entry.setdefault("samples", {})[proc] = sum(count for _, count in stacks)
    kept.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.profile", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the flame graphs")
    parser.add_argument("--scenarios", default=",".join(HOT_PATHS), help="comma-separated hot paths")
    parser.add_argument("--duration", type=float, default=12.0, help="sampled seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=int, default=97, help="samples per second")
    parser.add_argument("--load", choices=("auto", "python", "wrk"), default="auto")
    parser.add_argument(
        "--nonblocking",
        action="store_true",
        help="sample without pausing the processes (fewer, less exact samples; for a machine too busy "
        "for paused sampling to finish)",
    )
    parser.add_argument(
        "--rerender", action="store_true", help="only redraw the SVGs and shares from the stacks in --out"
    )
    args = parser.parse_args(argv)
    if args.rerender:
        rerender(args.out)
        return 0
    found = discover()
    chosen = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in chosen if s not in HOT_PATHS or s not in found]
    if unknown:
        raise SystemExit(f"not a profiled hot path: {', '.join(unknown)}; known: {', '.join(HOT_PATHS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    stop_on_sigterm()
    options = LoadOptions(
        concurrency=args.concurrency, warmup_s=1.0, duration_s=args.duration, load=args.load
    )
    report: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="lattice-profile-") as tmp, bench_system(Path(tmp)) as system:
        pids = system.pids()
        for name in chosen:
            module, scenario = found[name]
            print(f"  {name} ...", file=sys.stderr, flush=True)
            params = run_setup(scenario, system.ctx)
            watched = {"gateway": pids["gateway"], HOT_PATHS[name]: pids[HOT_PATHS[name]]}
            spies = {
                proc: record(
                    pid,
                    args.duration,
                    args.out / f"{name}.{proc}.txt",
                    rate=args.rate,
                    nonblocking=args.nonblocking,
                )
                for proc, pid in watched.items()
            }
            result = measure(module, scenario, params, Target(system.ctx.gateway_url, pids), options)
            entry: dict[str, Any] = {
                "load": result["load"],
                "throughput_rps": result["throughput_rps"],
                "p50_ms": result["p50_ms"],
                "errors": result["errors"],
                "cpu_ms_per_request_by_process": {
                    p: result["cpu_ms_per_request_by_process"][p] for p in watched
                },
            }
            for proc, spy in spies.items():
                collapsed = args.out / f"{name}.{proc}.txt"
                try:
                    _, err = spy.communicate(timeout=args.duration + 60)
                except subprocess.TimeoutExpired:  # a paused process on a very busy machine
                    spy.kill()
                    _, err = spy.communicate()
                if spy.returncode != 0 or not collapsed.exists():
                    why = err.decode(errors="replace")[-300:]
                    print(f"  py-spy failed on {proc}: {why}", file=sys.stderr)
                    continue
                stacks = write_svg(collapsed, collapsed.with_suffix(".svg"), title=f"{name}: {proc}")
                entry[proc] = shares(stacks, PARTS)
                entry.setdefault("samples", {})[proc] = sum(count for _, count in stacks)
            report[name] = entry
    kept = args.out / "shares.json"
    earlier = json.loads(kept.read_text())["scenarios"] if kept.exists() else {}
    kept.write_text(
        json.dumps({"options": asdict(options), "scenarios": {**earlier, **report}}, indent=2) + "\n"
    )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
