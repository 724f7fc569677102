"""wrk (Debian's package) as the load generator: a Lua script replays a pool of requests made up front.

The scenario's request factory is called in the harness for every request of a phase (tokens
rotate, partner requests are pre-signed with their own nonce, Idempotency-Keys are unique), the
requests go into a Lua table, and each wrk thread walks its own share of it (thread t sends
requests t, t+T, t+2T, ...), so no request is sent twice. The measured pool is sized from the
warm-up's rate (with room to spare); a pool that runs out stops its thread rather than repeat a
request, and since wrk still divides by the whole duration, that run is made again with a pool four
times the size.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.bench.scenario import Request, RequestFactory

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# requests per second the warm-up pool is made for (more than the system serves on this machine)
WARMUP_POOL_RPS = 4000
# the measured pool holds this many times what the warm-up's rate would send, plus a floor
POOL_HEADROOM = 3.0
POOL_FLOOR = 2000
THREADS = 2


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def suits_wrk(requests: list[Request]) -> bool:
    """wrk counts only 2xx/3xx as success: a scenario expecting anything else stays with Python."""
    return all(all(200 <= code < 400 for code in r.expect) for r in requests)


def _long_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _entry(r: Request) -> str:
    headers = ", ".join(f"[ {_long_string(k)} ] = {_long_string(v)}" for k, v in r.headers.items())
    body = _long_string(r.body.decode()) if r.body is not None else "nil"
    return f"{{ {_long_string(r.method)}, {_long_string(r.path)}, {{ {headers} }}, {body} }}"


def lua_script(requests: list[Request], *, threads: int = THREADS, chunk: int = 1000) -> str:
    """A wrk script sending `requests` once each, shared out between the threads."""
    distinct: dict[tuple[object, ...], int] = {}
    entries: list[str] = []
    order = []
    for r in requests:
        key = (r.method, r.path, tuple(r.headers.items()), r.body)
        if key not in distinct:
            distinct[key] = len(distinct) + 1
            entries.append(_entry(r))
        order.append(distinct[key])
    # one function per chunk of entries: LuaJIT bounds the constants of one function
    lines = ["local pool = {}"]
    for at in range(0, len(entries), chunk):
        lines.append("do local t = {")
        lines.extend(f"  {e}," for e in entries[at : at + chunk])
        lines.append("} for i = 1, #t do pool[#pool + 1] = t[i] end end")
    lines.append(f'local order_text = "{",".join(map(str, order))}"')
    lines.append(
        f"""
local order = {{}}
for n in order_text:gmatch("%d+") do order[#order + 1] = tonumber(n) end
local threads, next_id = {threads}, 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local k = -1
function request()
  k = k + 1
  local at = id + k * threads
  if at > #order then
    wrk.thread:stop()
    at = id
  end
  local r = pool[order[at]]
  return wrk.format(r[1], r[2], r[3], r[4])
end
"""
    )
    return "\n".join(lines)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]  # wrk always prints its latencies in this form; anything else should fail loudly
    return round(float(number) * _UNITS[unit], 3)


def parse_output(text: str) -> dict[str, Any]:
    """Throughput, latency percentiles and errors of a `wrk --latency` run."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if done is None:
        raise ValueError(f"unexpected wrk output:\n{text}")
    requests = int(done.group(1))
    elapsed = _ms(done.group(2) + done.group(3)) / 1000
    # wrk pads its units to two characters: a latency of seconds reads "1.50s " (trailing blank)
    pct = {p: _ms(v) for p, v in re.findall(r"^\s+(50|90|99)(?:\.0+)?%\s+(\S+)\s*$", text, flags=re.M)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    samples = [line.strip() for line in text.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return {
        "requests": requests,
        "errors": errors,
        "error_samples": samples,
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(requests / elapsed, 1) if elapsed else 0.0,
        "p50_ms": pct.get("50", 0.0),
        "p90_ms": pct.get("90", 0.0),
        "p99_ms": pct.get("99", 0.0),
    }


def run_wrk(
    base_url: str,
    factory: RequestFactory,
    *,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    timeout_s: float,
    on_warm: Callable[[], None],
) -> dict[str, Any]:
    """A warm-up run, then `on_warm()`, then the measured run (wrk counts whole seconds)."""
    binary = wrk_binary()
    assert binary, "wrk is not installed"
    threads = min(THREADS, concurrency)
    with tempfile.TemporaryDirectory() as tmp:

        def wrk(seconds: float, first: int, count: int) -> str:
            script = Path(tmp) / f"pool-{first}.lua"
            script.write_text(lua_script([factory(first + i) for i in range(count)], threads=threads))
            cmd = [
                binary,
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{max(1, math.ceil(seconds))}s",
                f"--timeout={max(1, math.ceil(timeout_s))}s",
                "--latency",
                "-s",
                str(script),
                base_url,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
            return done.stdout

        warm_count = int(WARMUP_POOL_RPS * max(1.0, math.ceil(warmup_s)))
        rate = float(WARMUP_POOL_RPS)
        if warmup_s > 0:
            warm = parse_output(wrk(warmup_s, 0, warm_count))
            rate = warm["throughput_rps"]
        pool = int(rate * math.ceil(duration_s) * POOL_HEADROOM) + POOL_FLOOR
        on_warm()
        measured = parse_output(wrk(duration_s, warm_count, pool))
        if measured["requests"] >= pool:  # ran out: wrk still divides by the whole duration
            on_warm()
            pool *= 4
            measured = parse_output(wrk(duration_s, warm_count + pool // 4, pool))
        return {**measured, "load": "wrk", "pool": pool}
