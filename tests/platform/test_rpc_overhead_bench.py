"""`python -m tools.bench.rpc_overhead` serves the trivial RPC from a bare and a runtime server and
reports the CPU per call of each (the measurement of the services' fixed cost per RPC)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_rpc_overhead_bench_reports_cpu_per_call_and_the_ratio() -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    out = subprocess.run(
        [sys.executable, "-m", "tools.bench.rpc_overhead", "--duration", "0.5", "--rounds", "1", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    for mode in ("bare", "runtime"):
        assert figures[mode]["calls_per_s"] > 0
        assert figures[mode]["cpu_ms_per_call"] > 0
    assert figures["cpu_ratio_vs_bare"]["runtime"] > 0
