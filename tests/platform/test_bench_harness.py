"""`make bench` as a quick smoke run: real baselines, the real system, the load from its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tools.bench.scenario import Request, discover, json_request
from tools.bench.wrk import lua_script, parse_output, suits_wrk

ROOT = Path(__file__).resolve().parents[2]

# what `wrk -t1 -c4 -d1s --latency` printed against the bare baseline on the development machine
WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:40123/json
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   465.17us  221.34us   3.02ms   87.60%
    Req/Sec     8.79k   612.25     9.41k    80.00%
  Latency Distribution
     50%  424.00us
     75%  511.00us
     90%  765.00us
     99%    1.20ms
  8748 requests in 1.00s, 1.18MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   8726.53
Transfer/sec:      1.18MB
"""


def test_smoke_run_writes_results_with_ratios_to_both_baselines(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    cmd = [
        sys.executable,
        "-m",
        "tools.bench",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
        "--concurrency",
        "2",
        "--load",
        "python",
        "--scenarios",
        "platform",
        "--journeys",
        "2",
        "--fixed-rate",
        "20",
        "--fixed-rate-scenarios",
        "platform.healthz",
        "--results",
        str(results),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(results.read_text())
    bare, grpc = document["baselines"]["python"]
    assert (bare["name"], grpc["name"]) == ("baseline.bare", "baseline.grpc")
    assert bare["ratios"]["bare"] == {"throughput": 1.0, "p50": 1.0, "cpu_per_request": 1.0}
    assert set(grpc["cpu_ms_per_request_by_process"]) == {"fastapi", "echo"}
    fixed = [s for s in document["scenarios"] if s["load"] == "fixed"]
    assert [s["name"] for s in fixed] == ["platform.healthz"]
    assert 10 <= fixed[0]["throughput_rps"] <= 25  # open loop at 20 req/s, beside the bare baseline at 20
    assert set(fixed[0]["ratios"]) == {"bare", "grpc"}
    scenarios = {s["name"]: s for s in document["scenarios"] if s["load"] != "fixed"}
    assert set(scenarios) == {"platform.healthz", "platform.readyz"}
    for s in scenarios.values():
        assert s["load"] == "python" and s["errors"] == 0 and s["requests"] > 0
        assert 0 < s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"]
        assert s["cpu_ms_per_request"] > 0
        assert {"gateway", "nats", "identity"} <= set(s["cpu_ms_per_request_by_process"])
        # the CPU was read once every consumer had caught up, within the wait's bound
        assert s["drained_idle"] and s["drain_backlog_left"] == 0 and 0 < s["drain_s"] < 60, s
        assert 0 < s["cpu_ms_per_request_at_load_end"] <= s["cpu_ms_per_request"]
        for base in (bare, grpc):
            ratio = s["ratios"][base["name"].split(".")[1]]
            assert ratio["throughput"] == round(s["throughput_rps"] / base["throughput_rps"], 3)
            assert ratio["cpu_per_request"] == round(s["cpu_ms_per_request"] / base["cpu_ms_per_request"], 3)
    # readyz asks five services and NATS: it must cost the servers more than healthz does
    assert (
        scenarios["platform.readyz"]["cpu_ms_per_request"]
        > scenarios["platform.healthz"]["cpu_ms_per_request"]
    )
    assert "| platform.readyz | python |" in done.stdout
    assert "| CPU ms/req at load end | drain s |" in done.stdout
    journey = document["journey"]
    assert journey["journeys"] == 2 and journey["steps"] == 14
    assert (
        journey["steps_per_s"] > 0
        and 0 < journey["click_to_postback_p50_ms"] <= journey["click_to_postback_max_ms"]
    )
    assert "click -> signed postback p50" in done.stdout
    extras = {e["name"]: e for e in document["extras"]}
    assert extras["baseline.sqlmodel_insert"]["tx_per_s"] > 0
    assert extras["baseline.jetstream_publish"]["msgs_per_s"] > 0


def test_scaling_run_measures_a_second_system_with_its_own_test_data(tmp_path: Path) -> None:
    """`make bench WORKERS=1,2`: the 2-worker system gets its own signed-in customers (a token of the
    first system is refused by the second: every request was counted an error), its rows name the
    edge store, and a failed request there fails the run."""
    results = tmp_path / "latest.json"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}", "REDIS_URL": ""}
    cmd = [sys.executable, "-m", "tools.bench", "--duration", "0.5", "--warmup", "0.2", "--smallest-data"]
    cmd += ["--concurrency", "2", "--load", "python", "--journeys", "0", "--fixed-rate", "0"]
    cmd += ["--scenarios", "content.serve_10", "--workers", "1,2", "--scaling-scenarios", "content.serve_10"]
    done = subprocess.run(
        cmd + ["--results", str(results)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(results.read_text())["scaling"]
    assert [(r["workers"], r["edge_store"]) for r in rows] == [(1, "memory"), (2, "sqlite")]
    for row in rows:
        assert row["errors"] == 0 and row["throughput_rps"] > 0, row
        # the slot was served by content, not refused at the gateway
        assert row["cpu_ms_per_request_by_process"]["content"] > 0.1, row
    assert "| content.serve_10 | 2 | sqlite |" in done.stdout


def test_scenarios_are_named_after_their_module_and_build_requests() -> None:
    found = discover()
    assert {"platform.healthz", "platform.readyz"} <= set(found)
    for name, (module, scenario) in found.items():
        assert name.split(".")[0] == module.rsplit(".", 1)[1], f"{name} lives in {module}"
        assert scenario.target in ("gateway", "console")


def test_wrk_output_is_parsed_and_only_repeatable_requests_go_to_wrk() -> None:
    parsed = parse_output(WRK_OUTPUT)
    assert parsed == {
        "requests": 8748,
        "errors": 3,
        "error_samples": ["Non-2xx or 3xx responses: 3"],
        "elapsed_s": 1.0,
        "throughput_rps": 8748.0,
        "p50_ms": 0.424,
        "p90_ms": 0.765,
        "p99_ms": 1.2,
    }
    # latencies of a second or more: wrk pads the unit ("1.50s "), which once parsed as no figure at all
    slow = WRK_OUTPUT.replace("424.00us", "1.50s ").replace("765.00us", "2.01s ").replace("1.20ms", "1.00m ")
    assert [parse_output(slow)[f"p{p}_ms"] for p in (50, 90, 99)] == [1500.0, 2010.0, 60_000.0]
    post = Request("POST", "/v1/x", {"content-type": "application/json"}, b'{"a":1}', (201,))
    assert suits_wrk([post, Request("POST", "/v1/x", body=b'{"a":2}', expect=(302,))])
    assert not suits_wrk([post, Request(expect=(404,))])


def test_wrk_sends_each_pooled_request_once_shared_between_its_threads() -> None:
    """Pre-signed requests (a nonce each) must never go twice: every thread walks its own share."""
    seen: Counter[tuple[str, str | None, bytes]] = Counter()

    class Recorder(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            seen[(self.path, self.headers.get("x-nonce"), body)] += 1
            self.send_response(201)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    pool = [
        json_request("POST", f"/v1/x?i={i}", {"i": i, "s": "]]"}, headers={"x-nonce": f"n{i}"})
        for i in range(400)
    ]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "pool.lua"
            script.write_text(lua_script(pool, threads=2, chunk=150))
            url = f"http://127.0.0.1:{server.server_port}"
            done = subprocess.run(
                ["wrk", "-t2", "-c4", "-d1s", "-s", str(script), url],
                capture_output=True,
                text=True,
                check=True,
            )
    finally:
        server.shutdown()
    assert "Non-2xx" not in done.stdout, done.stdout
    sent = {
        (f"/v1/x?i={i}", f"n{i}", json.dumps({"i": i, "s": "]]"}, separators=(",", ":")).encode())
        for i in range(400)
    }
    assert set(seen) <= sent and len(seen) > 100, done.stdout
    # the pool ran out within the second: each thread stopped; at most one request per connection repeats
    assert sum(seen.values()) - len(seen) <= 4


def _descendants(pid: int) -> set[int]:
    """Every living process below `pid` (from /proc: the harness starts its servers in sessions of
    their own, so a process group would not find them)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_bench_stopped_by_sigterm_stops_every_process_it_started(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    cmd = [sys.executable, "-m", "tools.bench", "--scenarios", "platform.healthz", "--journeys", "0"]
    cmd += ["--fixed-rate", "0", "--load", "python", "--results", str(tmp_path / "latest.json")]
    bench = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started: set[int] = set()
        deadline = time.monotonic() + 120
        # the whole system up (nats, five services, the gateway) or the time is out
        while time.monotonic() < deadline and bench.poll() is None:
            started |= _descendants(bench.pid)
            commands = {Path(f"/proc/{p}/cmdline").read_bytes() for p in started if _alive(p)}
            if any(b"-m\x00gateway" in c for c in commands):
                break
            time.sleep(0.5)
        assert bench.poll() is None, "the bench ended before its system was up"
        started |= _descendants(bench.pid)
        assert len(started) >= 7, started
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(60) == 128 + signal.SIGTERM
        left = {pid for pid in started if _alive(pid)}
        assert left == set(), [Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in left]
    finally:
        if bench.poll() is None:
            bench.kill()
