"""`make bench SOAK=600`: resident memory of every process before and after a fixed-rate mixed run.

The system starts as for the scenarios; each process's footprint at rest is read once the demo data
and the scenarios' test data are loaded. A short warm-up of the same mix fills the caches that are
meant to fill (token cache, gRPC channels, key caches); then every mixed scenario runs open-loop at
its share of the rate for the soak's length, and the RSS is read again once the system is idle (the
queues the load left drained). A process whose RSS grows by more than 10% from after the warm-up to
the end fails the bar. RSS is also sampled every tenth of the soak: a leak keeps growing through the
second half, a cache or a queue of a saturated machine levels off or drains.

NATS's footprint follows what JetStream holds, so the messages and bytes of every stream are read
beside each RSS reading (after the warm-up and at the end): the file store caches the block each
stream is writing (up to 8 MB a stream) and remembers each stream's message ids for its duplicate
window, so NATS grows with the bytes written until each written stream's block is full
(docs/performance.md, "Memory soak"). With `rest_s`, every process's RSS is read once more after
that long at rest: a cache that expires gives its memory back, a leak does not.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import nats

from services.runtime.bus import STREAMS
from tools.bench.runner import LoadOptions, Target, descendants, drain_target, measure
from tools.bench.scenario import discover, run_setup
from tools.bench.system import bench_system

# the hot paths of issue 15, each an equal share of the rate
MIX = (
    "conversion.redirect",
    "edge.app_token",
    "edge.partner_signed",
    "content.serve_10",
    "benefits.redeem_hot",
)
GROWTH_BAR = 0.10
# the customers' access tokens the setups issue live 15 minutes (services/identity/sessions.py,
# ACCESS_TTL); a longer soak's token-bearing requests then answer 401 token_expired
TOKEN_LIFE_S = 15 * 60


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its live descendants (a gateway's workers)."""
    total = 0
    for one in (pid, *descendants(pid)):
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def jetstream_state(nats_url: str) -> dict[str, dict[str, int]]:
    """Messages and bytes each of Lattice's streams holds (JetStream's stream info, as /jsz has it)."""

    async def read() -> dict[str, dict[str, int]]:
        nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=0)
        try:
            js = nc.jetstream(timeout=5)
            state = {}
            for name in STREAMS:
                info = await js.stream_info(name)
                state[name] = {"messages": info.state.messages, "bytes": info.state.bytes}
            return state
        finally:
            await nc.close()

    return asyncio.run(read())


def written(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """What each stream gained between two readings (streams that gained nothing left out)."""
    gained = {
        name: {key: after[name][key] - before.get(name, {}).get(key, 0) for key in ("messages", "bytes")}
        for name in after
    }
    return {name: g for name, g in gained.items() if g["messages"] or g["bytes"]}


def _rss_mb(pids: dict[str, int]) -> dict[str, float]:
    return {name: round(rss_bytes(pid) / 2**20, 1) for name, pid in pids.items()}


def _sampled(pids: dict[str, int], every_s: float, stop: threading.Event) -> list[dict[str, Any]]:
    """RSS of every process each `every_s` until `stop` is set (run in a thread)."""
    started, samples = time.monotonic(), []
    while not stop.wait(every_s):
        samples.append({"t_s": round(time.monotonic() - started), "rss_mb": _rss_mb(pids)})
    return samples


def _mixed(
    chosen: dict[str, tuple[str, Any, dict[str, Any]]], target: Target, *, rate: float, seconds: float
) -> list[dict[str, Any]]:
    # the mix's scenarios end together: the system is drained once, after all of them
    share = LoadOptions(
        load="fixed", rate_rps=rate / len(chosen), warmup_s=0.0, duration_s=seconds, drain=False
    )
    with ThreadPoolExecutor(len(chosen)) as pool:
        runs = [
            pool.submit(measure, module, scenario, params, target, share)
            for module, scenario, params in chosen.values()
        ]
        return [r.result() for r in runs]


def soak(
    work: Path, *, seconds: float, rate: float, rest_s: float = 0.0, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Footprint at rest, RSS after the warm-up and after the soak (and `rest_s` later), per process."""
    found = discover()
    warmup = min(60.0, seconds / 10)
    if warmup + seconds > TOKEN_LIFE_S - 120:
        print(
            f"  soak: {warmup + seconds:.0f}s outlives the customers' {TOKEN_LIFE_S // 60}-minute access "
            "tokens: token-bearing requests will answer 401 towards the end",
            file=sys.stderr,
            flush=True,
        )
    with bench_system(work, env=env) as system:
        pids = system.pids()
        chosen = {}
        for name in MIX:
            module, scenario = found[name]
            chosen[name] = (module, scenario, run_setup(scenario, system.ctx))
        at_rest = {name: rss_bytes(pid) for name, pid in pids.items()}
        target = Target(system.ctx.gateway_url, pids, system.stack.config.nats_url)
        print(f"  soak: warm-up {warmup:.0f}s ...", file=sys.stderr, flush=True)
        _mixed(chosen, target, rate=rate, seconds=warmup)
        before = {name: rss_bytes(pid) for name, pid in pids.items()}
        nats_url = system.stack.config.nats_url
        streams_before = jetstream_state(nats_url)
        print(f"  soak: {seconds:.0f}s at {rate:g} req/s ...", file=sys.stderr, flush=True)
        stop = threading.Event()
        with ThreadPoolExecutor(1) as sampler:
            sampling = sampler.submit(_sampled, pids, max(seconds / 10, 5.0), stop)
            try:
                runs = _mixed(chosen, target, rate=rate, seconds=seconds)
            finally:
                stop.set()
            samples = sampling.result()
        drained = drain_target(target, timeout_s=120)
        after = {name: rss_bytes(pid) for name, pid in pids.items()}
        streams_after = jetstream_state(nats_url)
        rested: dict[str, int] = {}
        if rest_s > 0:
            print(f"  soak: {rest_s:.0f}s at rest ...", file=sys.stderr, flush=True)
            time.sleep(rest_s)
            rested = {name: rss_bytes(pid) for name, pid in pids.items()}
    processes = {
        name: {
            "rss_at_rest_mb": round(at_rest[name] / 2**20, 1),
            "rss_before_mb": round(before[name] / 2**20, 1),
            "rss_after_mb": round(after[name] / 2**20, 1),
            "growth": round(after[name] / before[name] - 1, 4) if before[name] else None,
            **({"rss_rested_mb": round(rested[name] / 2**20, 1)} if name in rested else {}),
        }
        for name in pids
    }
    return {
        "name": "soak",
        "seconds": seconds,
        "rate_rps": rate,
        "options": asdict(LoadOptions(load="fixed", rate_rps=rate, duration_s=seconds)),
        "mix": {
            r["name"]: {
                **{k: r[k] for k in ("requests", "errors", "p50_ms", "p99_ms")},
                "error_samples": r["error_samples"][:3],
            }
            for r in runs
        },
        "processes": processes,
        "samples": samples,
        "settled_s": drained.seconds,
        "drained_idle": drained.idle,
        "drain_backlog_at_start": drained.backlog_at_start,
        "rest_s": rest_s,
        "streams": {"before": streams_before, "after": streams_after},
        "bar": GROWTH_BAR,
        "within_bar": all(p["growth"] is not None and p["growth"] <= GROWTH_BAR for p in processes.values()),
    }


def soak_markdown(result: dict[str, Any]) -> str:
    rested = bool(result.get("rest_s"))
    rest_head = f" {result['rest_s']:g}s at rest MB |" if rested else ""
    lines = [
        f"soak: {result['seconds']:g}s at {result['rate_rps']:g} req/s, mix of {', '.join(result['mix'])}",
        "| process | RSS at rest MB | after warm-up MB | after soak MB | growth |" + rest_head,
        "|---|---|---|---|---|" + ("---|" if rested else ""),
    ]
    for name, p in result["processes"].items():
        growth = "-" if p["growth"] is None else f"{p['growth'] * 100:+.1f}%"
        rest_cell = f" {p.get('rss_rested_mb', '-')} |" if rested else ""
        lines.append(
            f"| {name} | {p['rss_at_rest_mb']} | {p['rss_before_mb']} | {p['rss_after_mb']} | {growth} |"
            + rest_cell
        )
    errors = sum(m["errors"] for m in result["mix"].values())
    lines.append(
        f"growth bar {result['bar'] * 100:.0f}%: {'met' if result['within_bar'] else 'MISSED'}; "
        f"errors {errors}; read {result.get('settled_s', 0):g}s after the load, "
        + ("once idle" if result.get("drained_idle", True) else "at the wait's bound, not idle")
        + f" ({result.get('drain_backlog_at_start', 0)} messages queued for the consumers when it ended)"
    )
    streams = result.get("streams")
    if streams:
        gained = written(streams["before"], streams["after"])
        total = sum(g["bytes"] for g in gained.values())
        lines.append(
            f"JetStream during the soak: +{sum(g['messages'] for g in gained.values())} messages, "
            f"+{total / 2**20:.1f} MB ("
            + ", ".join(
                f"{name} +{g['messages']} / {g['bytes'] / 2**20:.1f} MB"
                for name, g in sorted(gained.items(), key=lambda kv: -kv[1]["bytes"])
            )
            + "); NATS caches the block each stream is writing, up to 8 MB a stream"
        )
    samples = result.get("samples") or []
    if samples:
        names = list(result["processes"])
        lines += ["", "| s | " + " | ".join(f"{n} MB" for n in names) + " |"]
        lines.append("|---" * (len(names) + 1) + "|")
        for sample in samples:
            lines.append(f"| {sample['t_s']} | " + " | ".join(f"{sample['rss_mb'][n]}" for n in names) + " |")
    return "\n".join(lines)
