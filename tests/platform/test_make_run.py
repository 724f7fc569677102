"""`make run`'s supervisor: everything comes up, Ctrl-C leaves no process behind, data survives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.identity.demo_data import DEMO_APP_SECRETS, DEMO_OPERATOR_SECRETS
from services.runtime.config import SERVICES
from tools.actors import operator_headers
from tools.stack import ROOT, free_ports


def _start(var_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tools.run"],
        cwd=ROOT,
        env={**env, "VAR_DIR": str(var_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_up(proc: subprocess.Popen[str], timeout: float = 240) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Ctrl-C stops"):  # the last line of what `make run` prints when up
            return lines
    raise AssertionError("make run did not come up:\n" + "\n".join(lines))


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    pairs = [tuple(map(int, line.split())) for line in out.splitlines() if line.strip()]
    return [child for child, parent in pairs if parent == pid]


def test_run_starts_everything_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    gateway_port, nats_port, console_port, *service_ports = free_ports(3 + len(SERVICES))
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
        "HTTP_PORT": str(gateway_port),
        "CONSOLE_PORT": str(console_port),
        "LATTICE_NATS_PORT": str(nats_port),
        **{f"{s.upper()}_ADDR": f"127.0.0.1:{p}" for s, p in zip(SERVICES, service_ports, strict=True)},
    }
    env.pop("NATS_URL", None)
    var_dir = tmp_path / "var"
    for attempt in (1, 2):
        proc = _start(var_dir, env)
        try:
            lines = _wait_up(proc)
            printed = "\n".join(lines)
            # every demo caller of the README's quickstart, with its credentials
            for credential in (*DEMO_OPERATOR_SECRETS.values(), *DEMO_APP_SECRETS.values(), "ride-demo-k1"):
                assert credential in printed, credential
            children = _children_of(proc.pid)
            assert len(children) == 8, lines  # NATS, five services, the gateway, the console
            assert httpx.get(f"http://127.0.0.1:{console_port}/healthz", timeout=5).status_code == 200
            ready = httpx.get(f"http://127.0.0.1:{gateway_port}/readyz", timeout=5).json()
            assert ready["status"] == "ready" and set(ready["services"]) == set(SERVICES)
            with httpx.Client(base_url=f"http://127.0.0.1:{gateway_port}", timeout=10) as gw:
                admin = operator_headers(gw, "hq-admin")
                if attempt == 1:
                    partner = {"partner_id": "kept", "name": "Kept Across Restarts", "sector": "retail"}
                    assert gw.post("/v1/ops/partners", json=partner, headers=admin).status_code == 201
                else:  # a second start finds what the first one stored
                    assert gw.get("/v1/ops/partners/kept", headers=admin).status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            proc.wait(timeout=120)  # a loaded CI machine stops eight processes slowly
        for child in children:  # Ctrl-C left no process behind
            assert not Path(f"/proc/{child}").exists()
