"""wrk (Debian's package) as the load generator for scenarios whose every request is the same."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.bench.scenario import Request

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def suits_wrk(first: Request, second: Request) -> bool:
    """wrk repeats one request and counts only 2xx/3xx as success."""
    return first == second and all(200 <= code < 400 for code in first.expect)


def lua_script(request: Request) -> str:
    """The wrk script that sets the method, headers and body."""
    lines = [f'wrk.method = "{request.method}"']
    lines += [f"wrk.headers[ [==[{k}]==] ] = [==[{v}]==]" for k, v in request.headers.items()]
    if request.body is not None:
        lines.append(f"wrk.body = [==[{request.body.decode()}]==]")
    return "\n".join(lines) + "\n"


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return round(float(number) * _UNITS[unit], 3)


def parse_output(text: str) -> dict[str, Any]:
    """Throughput, latency percentiles and errors of a `wrk --latency` run."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if done is None:
        raise ValueError(f"unexpected wrk output:\n{text}")
    requests = int(done.group(1))
    elapsed = _ms(done.group(2) + done.group(3)) / 1000
    pct = {p: _ms(v) for p, v in re.findall(r"^\s+(50|90|99)(?:\.0+)?%\s+(\S+)$", text, flags=re.M)}
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
    request: Request,
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
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "request.lua"
        script.write_text(lua_script(request))

        def wrk(seconds: float) -> str:
            cmd = [
                binary,
                f"-t{min(2, concurrency)}",
                f"-c{concurrency}",
                f"-d{max(1, math.ceil(seconds))}s",
                f"--timeout={max(1, math.ceil(timeout_s))}s",
                "--latency",
                "-s",
                str(script),
                base_url + request.path,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
            return done.stdout

        if warmup_s > 0:
            wrk(warmup_s)
        on_warm()
        return {**parse_output(wrk(duration_s)), "load": "wrk"}
